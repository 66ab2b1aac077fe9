import { defineConfig } from '@playwright/test';
import { chromiumLaunch } from '../playwright.config';

/** `npm run perf`: the measurement script, run by Playwright for its browser and helpers. */
export default defineConfig({
  testDir: '.',
  testMatch: 'measure.spec.ts',
  outputDir: '../test-results/perf',
  workers: 1,
  retries: 0,
  timeout: 600_000,
  reporter: [['list']],
  use: { browserName: 'chromium', launchOptions: chromiumLaunch, viewport: { width: 1280, height: 800 } },
});
