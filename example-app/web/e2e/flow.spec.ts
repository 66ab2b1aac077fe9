/**
 * The main path, with two users: alice creates a group and uploads a real PNG, watches it go from
 * pending to its thumbnail without a reload while bob, in another browser context, sees it appear
 * live; search finds it; the image page shows it; a reload keeps the session; sign-out hides the
 * write controls.
 */
import { gradientPng } from './support/png';
import { expect, liveOpen, markPage, signedInPage, stillMarked, test, unique } from './support/app';

test('sign in, create a group, upload, see it live in two browsers, search, view, reload, sign out', async ({
  browser,
  udagram,
}) => {
  const word = unique('tagus');
  const groupName = `Lisbon ${unique('trip')}`;
  const title = `Sunset over the ${word} river`;

  const alice = await signedInPage(browser, udagram.url, 'alice');

  await test.step('create a group from the form', async () => {
    await alice.getByRole('button', { name: 'New group' }).click();
    await alice.getByLabel('Name').fill(groupName);
    await alice.getByLabel('Description').fill('Evenings by the water.');
    await alice.getByRole('button', { name: 'Create group' }).click();
    await expect(alice.getByRole('heading', { level: 1, name: groupName })).toBeVisible();
    await expect(alice).toHaveURL(/\/groups\/[0-9a-f-]{36}$/);
  });
  const groupPath = new URL(alice.url()).pathname;

  const bob = await signedInPage(browser, udagram.url, 'bob', groupPath);
  await expect(bob.getByRole('heading', { level: 1, name: groupName })).toBeVisible();
  await Promise.all([liveOpen(alice), liveOpen(bob)]);
  await Promise.all([markPage(alice), markPage(bob)]);

  await test.step('upload a PNG: pending, then its thumbnail, without a reload', async () => {
    // Record every status an image card shows, to prove it went through pending.
    await alice.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { __statuses: string[] }).__statuses = seen;
      const record = (element: Element) => {
        const status = element.getAttribute('data-status');
        if (element.matches('[data-image-id]') && status && seen.at(-1) !== status) seen.push(status);
      };
      new MutationObserver((mutations) => {
        for (const mutation of mutations) {
          if (mutation.type === 'attributes') record(mutation.target as Element);
          for (const node of mutation.addedNodes) {
            if (node instanceof Element) {
              record(node);
              node.querySelectorAll('[data-image-id]').forEach(record);
            }
          }
        }
      }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-status'] });
    });
    await alice.getByLabel('Title', { exact: true }).fill(title);
    await alice.locator('input[type=file]').setInputFiles({
      name: 'sunset.png',
      mimeType: 'image/png',
      buffer: gradientPng(640, 400, [249, 115, 22], [124, 58, 237]),
    });
    await alice.getByRole('button', { name: 'Upload' }).click();
    const card = alice.locator('[data-image-id]', { hasText: title });
    await expect(card).toHaveAttribute('data-status', 'ready');
    await expect(card.getByRole('img', { name: title })).toBeVisible();
    await expect(card.getByRole('img', { name: title })).toHaveJSProperty('complete', true);
    expect(await card.getByRole('img', { name: title }).evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(
      150,
    );
    // For a person to look at: the group page once the form post is processed.
    await alice.screenshot({ path: test.info().outputPath('upload-flow.png'), fullPage: true });
    expect(await alice.evaluate(() => (window as unknown as { __statuses: string[] }).__statuses)).toEqual([
      'pending',
      'ready',
    ]);
    await expect(alice.getByRole('status').filter({ hasText: 'is uploaded' })).toBeVisible();
    await expect(alice.getByTestId('arrivals')).toHaveText(`“${title}” is ready.`);
    expect(await stillMarked(alice)).toBe(true);
  });

  await test.step('the other user sees it appear live', async () => {
    const card = bob.locator('[data-image-id]', { hasText: title });
    await expect(card).toHaveAttribute('data-status', 'ready');
    await expect(card.getByRole('img', { name: title })).toBeVisible();
    await expect(card).toContainText('alice');
    // Screen readers hear it too.
    await expect(bob.getByTestId('arrivals')).toHaveText(`New image from alice: ${title}.`);
    expect(await stillMarked(bob)).toBe(true);
  });

  await test.step('search finds it by a word of its title', async () => {
    const search = alice.getByRole('searchbox', { name: 'Search images by title' });
    await search.fill(word);
    await search.press('Enter');
    await expect(alice).toHaveURL(new RegExp(`/search\\?q=${word}$`));
    await expect(alice.getByRole('heading', { level: 1 })).toContainText(word);
    await expect(alice.getByRole('list', { name: 'Search results' }).getByRole('img', { name: title })).toBeVisible();
  });

  await test.step('the image page shows it', async () => {
    await alice.getByRole('list', { name: 'Search results' }).getByRole('link').first().click();
    await expect(alice).toHaveURL(/\/images\/[0-9a-f-]{36}$/);
    await expect(alice.getByRole('heading', { level: 1, name: title })).toBeVisible();
    const full = alice.getByRole('figure').getByRole('img', { name: title });
    await expect(full).toHaveJSProperty('complete', true);
    expect(await full.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(640);
    const details = alice.locator('.image-details');
    await expect(details.getByRole('link', { name: groupName })).toBeVisible();
    await expect(details).toContainText('alice');
  });

  await test.step('a reload keeps the session', async () => {
    await alice.reload();
    await expect(alice.getByTestId('user-name')).toHaveText('alice');
    await expect(alice.getByRole('heading', { level: 1, name: title })).toBeVisible();
    await alice.goto(udagram.url + groupPath);
    await expect(alice.getByRole('heading', { name: 'Add an image' })).toBeVisible();
  });

  await test.step('sign-out hides the write controls', async () => {
    await alice.getByRole('button', { name: 'Sign out' }).click();
    await expect(alice.getByRole('banner').getByRole('button', { name: 'Sign in' })).toBeVisible();
    await expect(alice.getByTestId('user-name')).toHaveCount(0);
    await alice.goto(udagram.url + groupPath);
    await expect(alice.getByRole('heading', { level: 1, name: groupName })).toBeVisible();
    await expect(alice.getByRole('heading', { name: 'Add an image' })).toHaveCount(0);
    await expect(alice.getByLabel('Title', { exact: true })).toHaveCount(0);
    await expect(alice.getByText('Sign in to add your images to this group.')).toBeVisible();
    await alice.goto(udagram.url);
    await expect(alice.getByRole('heading', { level: 1, name: 'Groups' })).toBeVisible();
    await expect(alice.getByRole('button', { name: 'New group' })).toHaveCount(0);
    // And the session is gone for good: a reload does not bring it back.
    await alice.reload();
    await expect(alice.getByRole('banner').getByRole('button', { name: 'Sign in' })).toBeVisible();
  });

  await alice.context().close();
  await bob.context().close();
});
