/** What the specs share: a server per worker, sign-in through the real issuer, API calls. */
import { type APIRequestContext, type Browser, expect, type Page, test as base } from '@playwright/test';
import { gradientPng } from './png';
import { removeDataDir, startUdagram, type Udagram } from './server';

/** The specs' fixtures: `udagram`, one server for the whole run (single worker). */
export const test = base.extend<object, { udagram: Udagram }>({
  udagram: [
    async ({}, use) => {
      const server = await startUdagram();
      await use(server);
      expect(await server.stop()).toBe(0);
      removeDataDir(server.dataDir);
    },
    { scope: 'worker' },
  ],
});

export { expect };

/** A word unique to this run, so names and titles never collide with earlier tests' data. */
export function unique(prefix: string): string {
  return `${prefix}${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
}

/** Signs in from the header's button through the issuer's page, back on the same page. */
export async function signIn(page: Page, user: string) {
  await page.getByRole('banner').getByRole('button', { name: 'Sign in' }).click();
  await signInOnIssuerPage(page, user);
}

/** Fills the development issuer's page (the user is already there). */
export async function signInOnIssuerPage(page: Page, user: string) {
  await page.getByLabel('User name').fill(user);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('user-name')).toHaveText(user);
}

/** A new browser context on `url`, signed in as `user`. */
export async function signedInPage(browser: Browser, url: string, user: string, path = '/'): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(url + path);
  await signIn(page, user);
  return page;
}

/** The access token the app keeps in localStorage (oidc-client-ts's user record). */
export async function accessToken(page: Page): Promise<string> {
  const token = await page.evaluate(() => {
    for (let i = 0; i < localStorage.length; i += 1) {
      const key = localStorage.key(i);
      if (key?.startsWith('oidc.user:'))
        return (JSON.parse(localStorage.getItem(key) ?? '{}') as { access_token?: string }).access_token;
    }
    return undefined;
  });
  expect(token, 'a signed-in page keeps its token in localStorage').toBeTruthy();
  return token!;
}

/** Creates a group through the API. */
export async function createGroup(
  request: APIRequestContext,
  url: string,
  token: string,
  name: string,
  description = '',
): Promise<string> {
  const response = await request.post(`${url}/groups`, {
    headers: { authorization: `Bearer ${token}` },
    data: { name, description },
  });
  expect(response.status()).toBe(201);
  return ((await response.json()) as { newItem: { id: string } }).newItem.id;
}

/** Creates an image record and posts a real PNG with its upload form; answers the image id. */
export async function uploadImage(
  request: APIRequestContext,
  url: string,
  token: string,
  groupId: string,
  title: string,
  png = gradientPng(320, 240, [79, 70, 229], [236, 72, 153]),
): Promise<string> {
  const created = await request.post(`${url}/groups/${groupId}/images`, {
    headers: { authorization: `Bearer ${token}` },
    data: { title, contentType: 'image/png' },
  });
  expect(created.status()).toBe(201);
  const body = (await created.json()) as {
    newItem: { imageId: string };
    upload: { url: string; fields: Record<string, string> };
  };
  // The form S3 takes (and `serve` alike): the fields, then the file.
  const posted = await request.post(body.upload.url, {
    multipart: { ...body.upload.fields, file: { name: 'upload.png', mimeType: 'image/png', buffer: png } },
  });
  expect(posted.status()).toBe(204);
  return body.newItem.imageId;
}

/** The images the API lists for a group (first page). */
export async function listImages(request: APIRequestContext, url: string, groupId: string) {
  const response = await request.get(`${url}/groups/${groupId}/images?limit=100`);
  expect(response.status()).toBe(200);
  return ((await response.json()) as { items: { imageId: string; title: string; status: string }[] }).items;
}

/** Marks the page, so a later check can tell it was not reloaded. */
export async function markPage(page: Page) {
  await page.evaluate(() => {
    (window as unknown as { __notReloaded: boolean }).__notReloaded = true;
  });
}

/** Whether the mark set by {@link markPage} is still there (no reload, no full navigation). */
export async function stillMarked(page: Page): Promise<boolean> {
  return page.evaluate(() => (window as unknown as { __notReloaded?: boolean }).__notReloaded === true);
}

/** Waits until the tab's live connection is open (the header's indicator); retries are at most 10 s apart. */
export async function liveOpen(page: Page) {
  await expect(page.locator('[data-live-status]')).toHaveAttribute('data-live-status', 'open', { timeout: 30_000 });
}
