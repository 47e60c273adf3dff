// The method comparison end to end, on WASM with the built-in demo model: all four methods ticked,
// one click, each trained 20 steps on the complaint task and scored on its run's validation rows;
// the table has a filled row per method and both baselines. Then the department task, if time allows.
import { mkdirSync, readFileSync } from 'node:fs';
import { unzipSync } from 'fflate';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { configure, launch, newContext, openApp, recordLog, storedPrompt, trainAndWait, useDataset, waitForModel, type PageLog } from './support/browser.ts';

const baseUrl = inject('baseUrl');
// The panels' shots (README's screenshots when `npm run screenshots` points this at docs/screenshots);
// the whole page, a debugging aid, always goes to test-results.
const RESULTS = path.resolve(import.meta.dirname, '../test-results');
const OUT = process.env.E2E_SCREENSHOT_DIR ?? RESULTS;
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
  for (const dir of [OUT, RESULTS]) mkdirSync(dir, { recursive: true });
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
    await page.screenshot({ path: path.join(RESULTS, 'compare-page.png'), fullPage: true });
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

  test("Serve runs rows of four methods' adapters as one batch, each beside the base model, and times it against one by one", async () => {
    await page.getByTestId('tab-serve').click();
    // The rows start as the task's test inputs, one per adapter in turn.
    await page.getByTestId('serve-input-0').waitFor();
    const ids = await page.evaluate(() => (globalThis as any).__playground.state().adapters.map((a: { id: string }) => a.id));
    for (let i = 0; i < 4; i++) await page.getByTestId(`serve-adapter-${i}`).selectOption(ids[i]);
    await page.getByTestId('serve-run').click();
    await page.getByTestId('serve-result').waitFor({ timeout: 120_000 });
    const times = (await page.getByTestId('serve-times').textContent()) ?? '';
    console.log(`serve: ${times}`);
    expect(times).toContain('every row got the same tokens both ways');
    for (let i = 0; i < 4; i++) expect(((await page.getByTestId(`serve-output-${i}`).textContent()) ?? '').length).toBeGreaterThan(0);
    await page.getByTestId('serve-panel').screenshot({ path: path.join(OUT, 'serve.png') });
    expect(log.errors).toEqual([]);
  });

  test('Train trains the method picked (P-tuning with an LSTM encoder); Inspect shows its prompt; the zip imports back with the encoder', async () => {
    await page.getByTestId('tab-train').click();
    await page.getByTestId('method-p_tuning').check();
    await page.getByTestId('encoder-type').selectOption('LSTM');
    await page.getByTestId('encoder-layers').fill('1');
    await page.getByTestId('encoder-hidden').fill('16');
    await configure(page, { steps: 3 });
    expect(await page.getByTestId('teach-where').getAttribute('data-method')).toBe('p_tuning');
    expect(await page.getByTestId('trainable-params').textContent()).toMatch(/trainable params: [\d,]+/);
    const run = await trainAndWait(page);
    expect(run.status).toBe('completed');
    const adapter = await page.evaluate((id) => (globalThis as any).__playground.state().adapters.find((a: { id: string }) => a.id === id), run.adapterId);
    expect(adapter.method).toMatchObject({ method: 'p_tuning', encoderType: 'LSTM', encoderNumLayers: 1, encoderHiddenSize: 16 });
    // Inspect: the virtual tokens its encoder produces.
    await expect.poll(() => page.evaluate(() => (globalThis as any).__playground.state().activeAdapterId)).toBe(run.adapterId);
    await page.getByTestId('tab-inspect').click();
    await page.getByTestId('inspect').locator('table, .bad, .callout-error').first().waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('inspect').locator('.callout-error').count()).toBe(0);
    // The zip: PEFT's files plus the encoder's state; imported back, the same values.
    await page.getByTestId('tab-adapters').click();
    const card = page.locator(`[data-adapter-id="${run.adapterId}"]`);
    const [download] = await Promise.all([page.waitForEvent('download'), card.getByTestId('download-zip').click()]);
    const entries = unzipSync(new Uint8Array(readFileSync(await download.path())));
    const names = Object.keys(entries);
    const file = (n: string) => entries[names.find((x) => x.endsWith(`/${n}`)) as string];
    expect(JSON.parse(new TextDecoder().decode(file('adapter_config.json')))).toMatchObject({ peft_type: 'P_TUNING', encoder_reparameterization_type: 'LSTM', encoder_num_layers: 1 });
    expect(file('playground_state.safetensors')).toBeDefined();
    await page.getByTestId('import-input').setInputFiles(await download.path());
    await expect.poll(() => page.evaluate(() => (globalThis as any).__playground.state().activeAdapterId)).not.toBe(run.adapterId);
    const importedId = await page.evaluate(() => (globalThis as any).__playground.state().activeAdapterId);
    expect(await storedPrompt(page, importedId)).toEqual(await storedPrompt(page, run.adapterId as string));
    expect(await card.getByText(/P-tuning · V 8 · LSTM encoder/).count()).toBe(1);
    expect(log.errors).toEqual([]);
  });
  test("Adapters shows each task's versions scored on its pinned suite; an imported adapter joins a task and is scored on demand", async () => {
    await page.getByTestId('tab-adapters').click();
    const complaint = page.locator('[data-testid=task-versions][data-task=complaint]');
    // Four runs of the comparison on complaint: four versions, each scored at the end of its run on
    // the suite the first run pinned from its held-out test rows (40 of them, both labels).
    await expect.poll(() => complaint.getByTestId('version-row').count()).toBe(4);
    expect(await complaint.getByTestId('suite-info').textContent()).toMatch(/40 rows \(40 of the \d+ test rows held out by run/);
    const accuracies = await complaint.getByTestId('version-accuracy').allTextContents();
    console.log(`complaint versions (newest first): ${accuracies.join(', ')}`);
    for (const a of accuracies) expect(a).toMatch(/^\d+(\.\d)?%$/);
    // The suite downloads as the file the CLI's eval --suite reads.
    const [download] = await Promise.all([page.waitForEvent('download'), complaint.getByText('Download suite').click()]);
    const suite = JSON.parse(readFileSync(await download.path(), 'utf8'));
    expect(suite).toMatchObject({ format: 'prompt-tuning-playground/suite', task: 'complaint' });
    expect(suite.examples).toHaveLength(40);
    // The imported P-tuning adapter belongs to no task until given one; then it is a new version, scored on demand.
    const imported = await page.evaluate(() => (globalThis as any).__playground.state().activeAdapterId);
    await page.locator(`[data-adapter-id="${imported}"] select[aria-label=task]`).selectOption('complaint');
    await expect.poll(() => complaint.getByTestId('version-row').count()).toBe(5);
    const newest = complaint.getByTestId('version-row').first();
    expect(await newest.getByTestId('version-accuracy').textContent()).toBe('not scored');
    await newest.getByText('score', { exact: true }).click();
    await expect.poll(() => newest.getByTestId('version-accuracy').textContent(), { timeout: 60_000 }).toMatch(/^\d+(\.\d)?%$/);
    await page.addStyleTag({ content: '.topbar, .work { position: static !important; } .toasts { display: none; }' });
    await complaint.screenshot({ path: path.join(OUT, 'versions.png') });
    expect(log.errors).toEqual([]);
  });
});
