/**
 * Every page at desktop (1280 px) and phone (375 px) width: an axe scan with no serious or critical
 * violation, and a screenshot in test-results/screenshots/ (the docs show the best of them).
 */
import AxeBuilder from '@axe-core/playwright';
import { join } from 'node:path';
import type { Page, TestInfo } from '@playwright/test';
import { gradientPng } from './support/png';
import { accessToken, createGroup, expect, test, uploadImage } from './support/app';
import { removeDataDir, startUdagram, type Udagram } from './support/server';

const WIDTHS = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'phone', width: 375, height: 760 },
] as const;

let server: Udagram;

test.beforeAll(async () => {
  server = await startUdagram();
});

test.afterAll(async () => {
  expect(await server.stop()).toBe(0);
  removeDataDir(server.dataDir);
});

/** Waits for every image on the page to be decoded, so screenshots show them. */
async function imagesLoaded(page: Page) {
  await page.waitForFunction(() =>
    [...document.images].every((img) => img.complete && (img.naturalWidth > 0 || img.loading === 'lazy')),
  );
}

/** Scans the page at both widths and saves a screenshot of each. */
async function check(page: Page, testInfo: TestInfo, name: string, ready: () => Promise<void>) {
  for (const size of WIDTHS) {
    await page.setViewportSize({ width: size.width, height: size.height });
    await ready();
    await imagesLoaded(page);
    const results = await new AxeBuilder({ page })
      .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'])
      .analyze();
    const serious = results.violations
      .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
      .map(
        (violation) =>
          `${violation.id} (${violation.impact}): ${violation.help} at ${violation.nodes.map((node) => node.target.join(' ')).join(', ')}`,
      );
    expect(serious, `${name} at ${size.width} px`).toEqual([]);
    await page.screenshot({ path: join(testInfo.project.outputDir, 'screenshots', `${name}-${size.width}.png`) });
  }
}

test('every page passes axe and is screenshotted at 1280 and 375 px', async ({ page }, testInfo) => {
  // A Content-Security-Policy violation, a failed script or an uncaught exception shows up here.
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`${page.url()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`${page.url()}: ${error.message}`));
  await page.goto(server.url);
  await check(page, testInfo, 'groups-empty', () =>
    expect(page.getByRole('heading', { name: 'No groups yet' })).toBeVisible(),
  );

  await page.setViewportSize({ width: 1280, height: 800 });
  await page.getByRole('banner').getByRole('button', { name: 'Sign in' }).click();
  await check(page, testInfo, 'sign-in', () => expect(page.getByLabel('User name')).toBeVisible());
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.getByLabel('User name').fill('maya');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('user-name')).toHaveText('maya');

  const token = await accessToken(page);
  const groups = [
    ['Street photography', 'Faces, corners and light in the city, shot on foot.'],
    ['Mountain weekends', 'Ridges, huts and the long walk down. Add your best summit view.'],
    ['Kitchen experiments', 'What we cooked, and what it looked like before we ate it.'],
    ['Lisbon trip', 'Trams, tiles and sunsets over the river.'],
  ];
  const ids: string[] = [];
  for (const [name, description] of groups)
    ids.push(await createGroup(page.request, server.url, token, name!, description));
  const lisbon = ids.at(-1)!;
  const palette: [[number, number, number], [number, number, number], string][] = [
    [[249, 115, 22], [124, 58, 237], 'Sunset over the Tagus'],
    [[14, 165, 233], [16, 185, 129], 'Tram 28 at Graça'],
    [[250, 204, 21], [239, 68, 68], 'Azulejos in Alfama'],
    [[99, 102, 241], [236, 72, 153], 'Evening light in Bairro Alto'],
    [[34, 197, 94], [20, 184, 166], 'Gardens of Estrela'],
    [[244, 63, 94], [251, 146, 60], 'Pastéis de nata'],
    [[56, 189, 248], [129, 140, 248], 'Morning light at Belém'],
  ];
  let imageId = '';
  for (const [from, to, title] of palette) {
    imageId = await uploadImage(page.request, server.url, token, lisbon, title, gradientPng(480, 360, from, to));
  }

  await page.goto(server.url);
  await check(page, testInfo, 'groups', () =>
    expect(page.getByRole('list', { name: 'Groups' }).getByRole('listitem')).toHaveCount(4),
  );

  await page.setViewportSize({ width: 1280, height: 800 });
  await page.getByRole('button', { name: 'New group' }).click();
  await page.getByRole('button', { name: 'Create group' }).click();
  await check(page, testInfo, 'new-group', () => expect(page.getByText('Give the group a name.')).toBeVisible());

  await page.goto(`${server.url}/groups/${lisbon}`);
  await check(page, testInfo, 'group', async () => {
    await expect(page.locator('[data-status=ready]')).toHaveCount(palette.length);
  });

  await page.goto(`${server.url}/images/${imageId}`);
  await check(page, testInfo, 'image', () =>
    expect(page.getByRole('heading', { level: 1, name: palette.at(-1)![2] })).toBeVisible(),
  );

  await page.goto(`${server.url}/search?q=${encodeURIComponent('light')}`);
  await check(page, testInfo, 'search', () =>
    expect(page.getByRole('list', { name: 'Search results' }).getByRole('img')).toHaveCount(2),
  );

  await page.goto(`${server.url}/no/such/page`);
  await check(page, testInfo, 'not-found', () =>
    expect(page.getByRole('heading', { name: 'This page does not exist' })).toBeVisible(),
  );

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('banner').getByRole('button', { name: 'Sign in' })).toBeVisible();
  await page.goto(`${server.url}/groups/${lisbon}`);
  await check(page, testInfo, 'group-signed-out', () =>
    expect(page.getByText('Sign in to add your images to this group.')).toBeVisible(),
  );
  expect(problems, 'console errors and uncaught exceptions').toEqual([]);
});
