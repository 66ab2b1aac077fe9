/**
 * Long lists load a page at a time: the groups list with its "Load more" button, a group's images
 * with infinite scroll; nothing loads twice, nothing is skipped, newest first.
 */
import { accessToken, createGroup, expect, signIn, test } from './support/app';
import { removeDataDir, startUdagram, type Udagram } from './support/server';

let server: Udagram;

test.beforeAll(async () => {
  server = await startUdagram();
});

test.afterAll(async () => {
  expect(await server.stop()).toBe(0);
  removeDataDir(server.dataDir);
});

test('groups page by page with "Load more", images page by page on scroll', async ({ page }) => {
  await page.goto(server.url);
  await signIn(page, 'pat');
  const token = await accessToken(page);
  for (let i = 1; i <= 23; i += 1) await createGroup(page.request, server.url, token, `Group ${i}`);

  const apiPages: string[] = [];
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (request.method() === 'GET' && /^\/groups(\/[^/]+\/images)?$/.test(url.pathname)) apiPages.push(url.pathname);
  });

  await page.reload();
  const groups = page.getByRole('list', { name: 'Groups' }).getByRole('heading');
  await expect(groups).toHaveCount(20);
  await expect(groups.first()).toHaveText('Group 23');
  await page.getByRole('button', { name: 'Load more' }).click();
  await expect(groups).toHaveCount(23);
  await expect(groups.last()).toHaveText('Group 1');
  await expect(page.getByRole('button', { name: 'Load more' })).toHaveCount(0);
  const names = await groups.allTextContents();
  expect(names).toEqual(Array.from({ length: 23 }, (_, i) => `Group ${23 - i}`));
  expect(apiPages).toEqual(['/groups', '/groups']);

  // 65 image records (pending: the grid's paging does not depend on the bytes).
  const groupId = await createGroup(page.request, server.url, token, 'Many images');
  for (let i = 1; i <= 65; i += 1) {
    const response = await page.request.post(`${server.url}/groups/${groupId}/images`, {
      headers: { authorization: `Bearer ${token}` },
      data: { title: `Image ${i}`, contentType: 'image/png' },
    });
    expect(response.status()).toBe(201);
  }
  apiPages.length = 0;
  await page.goto(`${server.url}/groups/${groupId}`);
  const cards = page.locator('[data-image-id]');
  await expect(cards).toHaveCount(30);
  await expect(cards.first()).toContainText('Image 65');
  await page.waitForLoadState('networkidle');
  expect(apiPages.filter((path) => path.endsWith('/images'))).toHaveLength(1);

  await page.getByRole('button', { name: 'Load more' }).scrollIntoViewIfNeeded();
  await expect(cards).toHaveCount(60);
  await page.getByRole('button', { name: 'Load more' }).scrollIntoViewIfNeeded();
  await expect(cards).toHaveCount(65);
  await expect(page.getByRole('button', { name: 'Load more' })).toHaveCount(0);
  const titles = await cards.locator('.image-title').allTextContents();
  expect(titles).toEqual(Array.from({ length: 65 }, (_, i) => `Image ${65 - i}`));
  expect(apiPages.filter((path) => path.endsWith('/images'))).toHaveLength(3);
});
