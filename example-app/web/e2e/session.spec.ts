/**
 * A session that ends while the page is open: with 5-second tokens and a 5-second refresh token, the
 * next write cannot renew the token, so the app sends the user back through sign-in (never a raw
 * 401), and signing in again comes back to the page and works.
 */
import { expect, signIn, signInOnIssuerPage, test, unique } from './support/app';
import { removeDataDir, startUdagram, type Udagram } from './support/server';

let shortLived: Udagram;

test.beforeAll(async () => {
  shortLived = await startUdagram({ args: ['--token-lifetime', '5s', '--session-lifetime', '5s'] });
});

test.afterAll(async () => {
  expect(await shortLived.stop()).toBe(0);
  removeDataDir(shortLived.dataDir);
});

test('an expired session leads back to sign-in, then the write works', async ({ page }) => {
  await page.goto(shortLived.url);
  await signIn(page, 'dave');
  const expiresAt = await page.evaluate(() => {
    const key = Object.keys(localStorage).find((name) => name.startsWith('oidc.user:'));
    return (JSON.parse(localStorage.getItem(key ?? '') ?? '{}') as { expires_at?: number }).expires_at ?? 0;
  });
  expect(expiresAt).toBeGreaterThan(0);
  // Wait for the clock, not for a fixed time: both tokens are past their lifetime once this holds.
  await expect.poll(() => Date.now() / 1000 > expiresAt + 1, { timeout: 20_000, intervals: [250] }).toBe(true);

  const problems: string[] = [];
  page.on('response', (response) => {
    // The token endpoint's refusal of the expired refresh token is expected; the API's 401s are not.
    if (response.status() === 401 && !new URL(response.url()).pathname.startsWith('/dev/'))
      problems.push(response.url());
  });
  await page.getByRole('button', { name: 'New group' }).click();
  const name = `After expiry ${unique('g')}`;
  await page.getByLabel('Name').fill(name);
  await page.getByRole('button', { name: 'Create group' }).click();

  await expect(page.getByLabel('User name')).toBeVisible();
  expect(new URL(page.url()).pathname).toBe('/dev/authorize');
  await expect(page.getByText(/401|Unauthorized/)).toHaveCount(0);

  await signInOnIssuerPage(page, 'dave');
  await expect(page.getByRole('heading', { level: 1, name: 'Groups' })).toBeVisible();
  await page.getByRole('button', { name: 'New group' }).click();
  await page.getByLabel('Name').fill(name);
  await page.getByRole('button', { name: 'Create group' }).click();
  await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();
  expect(problems, 'the API refused no token it was sent').toEqual([]);
});

test('a reload after the session ended shows the user signed out', async ({ page }) => {
  await page.goto(shortLived.url);
  await signIn(page, 'dave');
  const expiresAt = await page.evaluate(() => {
    const key = Object.keys(localStorage).find((name) => name.startsWith('oidc.user:'));
    return (JSON.parse(localStorage.getItem(key ?? '') ?? '{}') as { expires_at?: number }).expires_at ?? 0;
  });
  await expect.poll(() => Date.now() / 1000 > expiresAt + 1, { timeout: 20_000, intervals: [250] }).toBe(true);
  await page.reload();
  await expect(page.getByRole('banner').getByRole('button', { name: 'Sign in' })).toBeVisible();
  await expect(page.getByTestId('user-name')).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'New group' })).toHaveCount(0);
  expect(await page.evaluate(() => Object.keys(localStorage).filter((name) => name.startsWith('oidc.user:')))).toEqual(
    [],
  );
});
