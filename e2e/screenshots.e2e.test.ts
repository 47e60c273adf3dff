// Screenshots of the main screens for the README (docs/screenshots/), taken from a real session:
// three runs (one per init) on the default model, an evaluation, inspection and the adapter list.
// Runs only with E2E_SCREENSHOTS=1 (`npm run screenshots`), on WASM for speed.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { configure, launch, newContext, openApp, trainAndWait, useDataset, waitForModel } from './support/browser.ts';

const OUT = path.resolve(import.meta.dirname, '../docs/screenshots');
const baseUrl = inject('baseUrl');
let browser: Browser;
let page: Page;

const shot = (name: string, selector?: string) =>
  selector
    ? page
        .locator(selector)
        .first()
        .screenshot({ path: path.join(OUT, `${name}.png`) })
    : page.screenshot({ path: path.join(OUT, `${name}.png`) });

describe.skipIf(!process.env.E2E_SCREENSHOTS)('screenshots', () => {
  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    browser = await launch();
    const context = await newContext(browser);
    page = await context.newPage();
  });
  afterAll(() => browser?.close());

  test('main screens', async () => {
    await openApp(page, baseUrl, { backend: 'wasm' });
    await waitForModel(page);
    const builtins = await page.evaluate(() => (globalThis as unknown as { __playground: { state(): { builtins: { id: string }[] } } }).__playground.state().builtins.map((b) => b.id));
    const dataset = builtins.includes('complaint') ? 'complaint' : 'smoke';
    await useDataset(page, dataset);
    const small = dataset === 'smoke';
    for (const init of ['RANDOM', 'SAMPLE_VOCAB', 'TEXT'] as const) {
      await configure(page, { init, epochs: small ? 6 : 2, batchSize: small ? 2 : 8, virtualTokens: 8 });
      const run = await trainAndWait(page, 600_000);
      expect(run.status).toBe('completed');
    }
    // Overlay the two earlier runs on the last one.
    for (const box of await page.locator('.run-list input[type=checkbox]').all()) await box.check();
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.addStyleTag({ content: '.toasts { display: none; }' });
    await page.waitForTimeout(500);
    await shot('overview');
    // Element shots: no sticky header over the element.
    await page.addStyleTag({ content: '.topbar, .work { position: static !important; } .toasts { display: none; }' });
    await shot('data', '#data');
    await shot('soft-prompt', '#prompt');

    await page.getByTestId('tab-evaluate').click();
    const limit = page.locator('.evaluate-panel input[type=number]').first();
    await limit.fill('16');
    await page.getByTestId('evaluate').click();
    await page.getByTestId('eval-results').waitFor({ timeout: 300_000 });
    await page.getByTestId('try-input').fill('@quickship my parcel is three days late and nobody answers');
    await page.getByTestId('try-generate').click();
    await page.getByTestId('try-output').waitFor({ timeout: 120_000 });
    await shot('evaluate', '.workspace');

    await page.getByTestId('tab-inspect').click();
    await page.locator('table.inspect').waitFor({ timeout: 60_000 });
    await shot('inspect', '.workspace');

    await page.getByTestId('tab-adapters').click();
    await shot('adapters', '.workspace');
  });
});
