/**
 * The server stops (SIGTERM closes every WebSocket with 1001) and starts again on the same data
 * directory and port: the page's WebSocket reconnects by itself (backoff, fresh token) and live
 * updates resume, all without a reload.
 */
import {
  accessToken,
  createGroup,
  expect,
  liveOpen,
  markPage,
  signIn,
  stillMarked,
  test,
  unique,
  uploadImage,
} from './support/app';
import { removeDataDir, startUdagram, type Udagram } from './support/server';

let server: Udagram;

test.beforeAll(async () => {
  server = await startUdagram();
});

test.afterAll(async () => {
  expect(await server.stop()).toBe(0);
  removeDataDir(server.dataDir);
});

test('after a server restart the WebSocket reconnects and live updates resume', async ({ page }) => {
  await page.goto(server.url);
  await signIn(page, 'erin');
  const token = await accessToken(page);
  const groupId = await createGroup(page.request, server.url, token, `Restart ${unique('g')}`);
  await page.goto(`${server.url}/groups/${groupId}`);
  await liveOpen(page);
  await markPage(page);

  const before = unique('before');
  await uploadImage(page.request, server.url, token, groupId, `Live ${before}`);
  await expect(page.locator('[data-image-id]', { hasText: before })).toHaveAttribute('data-status', 'ready');

  expect(await server.stop()).toBe(0);
  await expect(page.locator('[data-live-status]')).not.toHaveAttribute('data-live-status', 'open');
  server = await startUdagram({ dataDir: server.dataDir, port: server.port });

  await liveOpen(page);
  const after = unique('after');
  await uploadImage(page.request, server.url, token, groupId, `Live ${after}`);
  await expect(page.locator('[data-image-id]', { hasText: after })).toHaveAttribute('data-status', 'ready');
  expect(await stillMarked(page)).toBe(true);
});
