/**
 * `npm run perf`: measures, against a real `udagram serve` in headless Chromium,
 *  (a) the JavaScript the first page loads, gzipped;
 *  (b) the groups page's largest contentful paint with 20 groups (the browser's own entry),
 *      median of several cold loads;
 *  (c) on a group of 500 images, how many image requests and API pages load before any scroll,
 *      and after one scroll to the bottom.
 * It prints the figures and writes them to perf/results/perf.json. A measurement, not a test of
 * timings: only the size budget is asserted (by e2e/budget.spec.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Browser, expect, test } from '@playwright/test';
import { accessToken, createGroup, signIn, uploadImage } from '../e2e/support/app';
import { gradientPng } from '../e2e/support/png';
import { removeDataDir, startUdagram, type Udagram } from '../e2e/support/server';
import { firstLoadJs } from './first-load';

const LOADS = 7;
const IMAGES = 500;

let server: Udagram;
test.beforeAll(async () => {
  server = await startUdagram();
});
test.afterAll(async () => {
  await server.stop();
  removeDataDir(server.dataDir);
});

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** One cold load of `url` in a new context: the LCP entry's start time, in ms. */
async function coldLcp(browser: Browser, url: string, groups: number): Promise<number> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(url);
  await expect(page.getByRole('list', { name: 'Groups' }).getByRole('listitem')).toHaveCount(groups);
  const lcp = await page.evaluate(
    () =>
      new Promise<number>((resolve) => {
        new PerformanceObserver((list) => {
          const entries = list.getEntries();
          resolve(entries[entries.length - 1]!.startTime);
        }).observe({ type: 'largest-contentful-paint', buffered: true });
      }),
  );
  await context.close();
  return lcp;
}

/** Runs `task` over `items`, `width` at a time. */
async function pool<T>(items: T[], width: number, task: (item: T) => Promise<unknown>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await task(items[next++]!);
    }),
  );
}

test('measure', async ({ browser, page }) => {
  const results: Record<string, unknown> = {};

  const js = firstLoadJs();
  results.firstLoadJs = {
    files: js.files,
    rawKB: +(js.rawBytes / 1024).toFixed(1),
    gzipKB: +(js.gzipBytes / 1024).toFixed(1),
  };

  await page.goto(server.url);
  await signIn(page, 'perf');
  const token = await accessToken(page);
  for (let i = 1; i <= 20; i += 1) {
    await createGroup(
      page.request,
      server.url,
      token,
      `Group ${i}`,
      `Twenty groups for the first page, this is number ${i}.`,
    );
  }
  const lcps: number[] = [];
  for (let i = 0; i < LOADS; i += 1) lcps.push(await coldLcp(browser, server.url, 20));
  results.groupsPageLcpMs = { median: Math.round(median(lcps)), runs: lcps.map(Math.round) };

  const groupId = await createGroup(page.request, server.url, token, 'Five hundred', 'A big group.');
  const png = gradientPng(64, 48, [79, 70, 229], [236, 72, 153]);
  await pool(
    Array.from({ length: IMAGES }, (_, i) => i),
    8,
    (i) => uploadImage(page.request, server.url, token, groupId, `Image ${i + 1}`, png),
  );
  // Upload processing (thumbnails) is queued: wait until no image of the group is pending.
  const pending = async () => {
    let count = 0;
    let nextKey: string | undefined;
    do {
      const query = nextKey ? `&nextKey=${encodeURIComponent(nextKey)}` : '';
      const response = await page.request.get(`${server.url}/groups/${groupId}/images?limit=100${query}`);
      const body = (await response.json()) as { items: { status: string }[]; nextKey?: string };
      count += body.items.filter((image) => image.status !== 'ready').length;
      nextKey = body.nextKey ?? undefined;
    } while (nextKey);
    return count;
  };
  await expect.poll(pending, { timeout: 300_000, intervals: [1000] }).toBe(0);

  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const viewer = await context.newPage();
  const requests = { images: 0, apiPages: 0 };
  viewer.on('request', (request) => {
    const path = new URL(request.url()).pathname;
    if (request.resourceType() === 'image' && path.startsWith('/files/')) requests.images += 1;
    if (path === `/groups/${groupId}/images`) requests.apiPages += 1;
  });
  await viewer.goto(`${server.url}/groups/${groupId}`);
  await expect(viewer.locator('[data-image-id]').first()).toBeVisible();
  await viewer.waitForLoadState('networkidle');
  const beforeScroll = { ...requests, cards: await viewer.locator('[data-image-id]').count() };
  await viewer.mouse.wheel(0, 100_000);
  await viewer.waitForLoadState('networkidle');
  await expect.poll(() => viewer.locator('[data-image-id]').count()).toBeGreaterThan(beforeScroll.cards);
  await viewer.waitForLoadState('networkidle');
  const afterScroll = { ...requests, cards: await viewer.locator('[data-image-id]').count() };
  await context.close();
  results.group500 = { images: IMAGES, beforeScroll, afterOneScrollToBottom: afterScroll };

  const out = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(out, { recursive: true });
  writeFileSync(`${out}perf.json`, `${JSON.stringify(results, null, 2)}\n`);
  console.log(
    [
      '',
      `first-load JS: ${results.firstLoadJs && js.files.length} file(s), ${(js.rawBytes / 1024).toFixed(1)} KB raw, ${(js.gzipBytes / 1024).toFixed(1)} KB gzipped`,
      `groups page LCP with 20 groups: median ${Math.round(median(lcps))} ms over ${LOADS} cold loads (${lcps.map(Math.round).join(', ')})`,
      `group of ${IMAGES} images, before scrolling: ${beforeScroll.images} image requests, ${beforeScroll.apiPages} API page(s), ${beforeScroll.cards} cards`,
      `after one scroll to the bottom: ${afterScroll.images} image requests, ${afterScroll.apiPages} API pages, ${afterScroll.cards} cards`,
      '',
    ].join('\n'),
  );
});
