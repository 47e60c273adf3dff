// The method comparison end to end, on WASM with the built-in demo model: all four methods ticked,
// one click, each trained 20 steps on the complaint task and scored on its run's validation rows;
// the table has a filled row per method and both baselines. Then the department task, if time allows.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { configure, launch, newContext, openApp, recordLog, useDataset, waitForModel, type PageLog } from './support/browser.ts';

const baseUrl = inject('baseUrl');
const OUT = process.env.E2E_SCREENSHOT_DIR ?? path.resolve(import.meta.dirname, '../test-results');
const METHODS = ['prompt', 'prefix', 'p_tuning', 'lora'] as const;
let browser: Browser;
let page: Page;
let log: PageLog;

type Cell = Record<string, string | null>;
/** The comparison table as numbers (data-value of each cell) and text, by row test id. */
const table = () =>
  page.evaluate(() => {
    const out: Record<string, Cell> = {};
    for (const tr of document.querySelectorAll('[data-testid=compare-table] tbody tr')) {
      const row: Cell = { name: tr.querySelector('th')?.textContent?.trim() ?? '' };
      for (const td of tr.querySelectorAll('td[data-col]')) {
        row[(td as HTMLElement).dataset.col as string] = (td as HTMLElement).dataset.value ?? null;
        row[`${(td as HTMLElement).dataset.col}Text`] = td.textContent?.trim() ?? '';
      }
      out[(tr as HTMLElement).dataset.testid as string] = row;
    }
    return out;
  });

async function compare(timeout = 240_000): Promise<Record<string, Cell>> {
  await page.getByTestId('tab-compare').click();
  for (const m of METHODS) await page.getByTestId(`compare-${m}`).check();
  const t0 = Date.now();
  await page.getByTestId('compare-start').click();
  await page.waitForFunction(() => ['done', 'stopped'].includes(document.querySelector('[data-testid=compare-status]')?.getAttribute('data-status') ?? ''), null, { timeout, polling: 500 });
  console.log(`comparison of ${METHODS.length} methods: ${((Date.now() - t0) / 1000).toFixed(0)} s; ${await page.getByTestId('compare-status').textContent()}`);
  return table();
}

function check(rows: Record<string, Cell>): void {
  for (const m of METHODS) {
    const r = rows[`compare-row-${m}`];
    expect(r, m).toBeDefined();
    expect(Number(r.params), `${m} params`).toBeGreaterThan(0);
    expect(Number(r.bytes), `${m} adapter bytes`).toBeGreaterThan(0);
    expect(Number(r.step), `${m} step time`).toBeGreaterThan(0);
    expect(Number(r.memory), `${m} peak memory`).toBeGreaterThan(0);
    expect(Number.isFinite(Number(r['val-loss'])) && r['val-loss'] !== '', `${m} validation loss`).toBe(true);
    expect(r.accuracy, `${m} accuracy`).not.toBe('');
    expect(Number(r.accuracy)).toBeGreaterThanOrEqual(0);
  }
  expect(Number(rows['compare-row-none']?.accuracy)).toBeGreaterThanOrEqual(0);
  expect(Number(rows['compare-row-majority']?.accuracy)).toBeGreaterThan(0);
}

function print(task: string, rows: Record<string, Cell>): void {
  const labels = [...new Set(Object.values(rows).flatMap((r) => Object.keys(r).filter((k) => k.startsWith('label:') && !k.endsWith('Text'))))];
  const lines = Object.values(rows).map((r) =>
    [
      r.name,
      r.params ?? '',
      r.bytes ?? '',
      r.stepText ?? '',
      r.memoryText ?? '',
      r['val-lossText'] ?? '',
      r['eval-lossText'] ?? '',
      r.accuracyText ?? '',
      ...labels.map((l) => r[`${l}Text`] ?? ''),
    ].join(' | '),
  );
  console.log(
    `\n${task}\nmethod | trainable params | adapter bytes | step | peak memory | final val loss | held-out loss | held-out accuracy | ${labels.map((l) => l.slice(6)).join(' | ')}\n${lines.join('\n')}\n`,
  );
}

beforeAll(async () => {
  mkdirSync(OUT, { recursive: true });
  browser = await launch();
  const context = await newContext(browser);
  page = await context.newPage();
  await page.setViewportSize({ width: 1400, height: 1000 });
  log = recordLog(page);
});
afterAll(() => browser?.close());

describe('method comparison', () => {
  test('trains all four methods by one click and fills the table (complaint task)', async () => {
    await openApp(page, baseUrl, { backend: 'wasm' });
    await waitForModel(page, 'playground-demo');
    await useDataset(page, 'complaint');
    await configure(page, { steps: 20, batchSize: 8 });
    // Validate every 5 steps: four points per curve.
    await page.locator('.advanced summary').click();
    await page.getByTestId('eval-every').fill('5');
    // The method picker: LoRA's settings show PEFT's default target modules for the model type, and its learning rate.
    await page.getByTestId('method-lora').check();
    await expect.poll(() => page.getByTestId('lora-default-targets').textContent()).toBe('q_proj, v_proj');
    expect(await page.getByTestId('lr').inputValue()).toBe('0.005');
    expect(await page.getByTestId('teach-where').getAttribute('data-method')).toBe('lora');
    await page.getByTestId('method-prompt').check();
    expect(await page.getByTestId('lr').inputValue()).toBe('0.03');

    const rows = await compare();
    print('complaint', rows);
    check(rows);
    // Four runs, four adapters, each of its method.
    const adapters = await page.evaluate(() => (globalThis as any).__playground.state().adapters.map((a: { method?: { method: string } }) => a.method?.method ?? 'prompt'));
    expect([...adapters].sort()).toEqual([...METHODS].sort());
    // Element shots: no sticky header over the element.
    await page.addStyleTag({ content: '.topbar, .work { position: static !important; } .toasts { display: none; }' });
    await page.getByTestId('compare-panel').screenshot({ path: path.join(OUT, 'compare-complaint.png') });
    await page.screenshot({ path: path.join(OUT, 'compare-page.png'), fullPage: true });
    expect(log.errors).toEqual([]);
  });

  test('and again on the department task', async () => {
    await useDataset(page, 'department');
    await configure(page, { steps: 20, batchSize: 8 });
    const rows = await compare();
    print('department', rows);
    check(rows);
    await page.getByTestId('compare-panel').screenshot({ path: path.join(OUT, 'compare-department.png') });
  });
});
