/** The first-load JavaScript budget: at most 150 KB gzipped (what perf reports, as a check). */
import { firstLoadJs } from '../perf/first-load';
import { expect, test } from '@playwright/test';

test('the JavaScript index.html loads first is at most 150 KB gzipped', () => {
  const { gzipBytes, files } = firstLoadJs();
  expect(files.length).toBeGreaterThan(0);
  expect(gzipBytes).toBeLessThanOrEqual(150 * 1024);
});
