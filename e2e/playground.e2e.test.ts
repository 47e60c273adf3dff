// The playground end to end, in Chromium with WebGPU (SwiftShader here): load, train with each
// init, export + re-import, reload, the Hub path, corrupt imports, responsiveness, recovery.
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { unzipSync, zipSync } from 'fflate';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { parseSafetensors } from '../src/engine/io/safetensors.ts';
import { startHubServer } from '../test/support/hub-server.ts';
import {
  configure,
  launch,
  longFrames,
  longTasks,
  newContext,
  openApp,
  pageNow,
  recordLog,
  storedPrompt,
  traceMainThread,
  trainAndWait,
  useDataset,
  waitForModel,
  type PageLog,
} from './support/browser.ts';

const baseUrl = inject('baseUrl');

let browser: Browser;
let context: BrowserContext;
let page: Page;
let log: PageLog;
const trained: { init: string; adapterId: string }[] = [];
const timings: Record<string, number[]> = {};

const state = <T>(pick: string) =>
  page.evaluate((p) => {
    let v: any = (globalThis as any).__playground.state();
    for (const k of p.split('.')) v = v?.[k];
    return v;
  }, pick) as Promise<T>;

beforeAll(async () => {
  browser = await launch();
  context = await newContext(browser);
  page = await context.newPage();
  log = recordLog(page);
});

afterAll(async () => {
  if (Object.keys(timings).length) console.log('step seconds by backend:', JSON.stringify(timings));
  await browser?.close();
});

describe('playground', () => {
  test('loads the default model on the WebGPU backend', async () => {
    await openApp(page, baseUrl, { backend: 'webgpu' });
    await waitForModel(page);
    const badge = page.getByTestId('backend-badge');
    expect(await badge.getAttribute('data-backend')).toBe('webgpu');
    // Chromium here has only SwiftShader: the app must say it is a software adapter.
    if ((await badge.getAttribute('data-fallback')) === 'true') await expect.poll(() => page.getByTestId('software-gpu').isVisible()).toBe(true);
    const facts = await page.getByTestId('model-facts').textContent();
    const embedded = await state<{ name: string }[]>('embedded');
    expect(facts).toContain(embedded[0].name);
    expect(facts).toMatch(/Parameters/);
    await useDataset(page, 'smoke');
    expect(await page.getByTestId('token-preview').textContent()).toContain('soft prompt');
    // PEFT's line: V x hidden trainable values (V defaults to 8).
    const hidden = await state<number>('model.hiddenSize');
    const line = (await page.getByTestId('trainable-params').textContent()) ?? '';
    expect(line).toMatch(/trainable params: [\d,]+ \|\| all params: [\d,]+ \|\| trainable%: /);
    expect(Number(line.match(/trainable params: ([\d,]+)/)?.[1].replace(/,/g, ''))).toBe(8 * hidden);
    expect(log.errors).toEqual([]);
  });

  for (const init of ['TEXT', 'SAMPLE_VOCAB', 'RANDOM'] as const) {
    test(`trains 3 steps with ${init} init, the chart updates, tensors stay flat and the page stays responsive`, async () => {
      await page.getByTestId('tab-train').click();
      await configure(page, { init, steps: 3, batchSize: 2, maxLength: 32 });
      if (init === 'RANDOM') expect(await page.locator('[data-warning=random-scale]').count()).toBe(1);
      const from = await pageNow(page);
      // Every run is traced: CPU time per main-thread task, which other load on the machine cannot inflate.
      const { result: run, tasks } = await traceMainThread(browser, page, () => trainAndWait(page));
      const to = await pageNow(page);
      expect(run.status).toBe('completed');
      expect(run.steps).toBe(3);
      expect(run.losses.every(Number.isFinite)).toBe(true);
      // Kept before the responsiveness bars, so a slow machine fails this test alone, not the ones that use its adapter.
      expect(run.adapterId).toBeTruthy();
      trained.push({ init, adapterId: run.adapterId as string });
      // The chart grew point by point as steps arrived (not once at the end).
      expect(run.chartPoints.at(-1)).toBe(3);
      expect(run.chartPoints.length).toBeGreaterThanOrEqual(2);
      // tf.memory().numTensors in the worker is the same after every step.
      expect(new Set(run.tensorCounts).size).toBe(1);
      const long = (await longTasks(page)).filter((t) => t.start >= from && t.start <= to);
      const frames = ((await longFrames(page)) as { start: number; duration: number }[]).filter((f) => f.start >= from - 50 && f.start <= to && f.duration > 150);
      const load = loadavg()[0] / cpus().length;
      console.log(
        `${init}: ${run.steps} steps in ${run.seconds.toFixed(1)} s; longest main-thread task while training: ${Math.max(0, ...long.map((t) => t.duration))} ms wall, ` +
          `${Math.max(0, ...tasks.map((t) => t.cpuMs)).toFixed(0)} ms CPU (load ${load.toFixed(1)} per core)`,
      );
      // The bar: no main-thread task spends over 200 ms of CPU while a run starts and trains.
      expect(
        tasks.filter((t) => t.cpuMs > 200),
        'main-thread tasks over 200 ms of CPU time',
      ).toEqual([]);
      // Wall-clock long tasks (PerformanceObserver 'longtask') also count time spent waiting for a
      // core, which loadavg does not show on a shared VM: CI once ran this whole test 4-6x slower
      // than usual and the Train click's 30 ms render took 180-390 ms of wall time. So the wall bar
      // only catches a page that blocks (waits, not computes) for a second.
      expect(
        long.filter((t) => t.duration > 1000),
        `main-thread tasks over 1 s: ${JSON.stringify(long)}; long frames: ${JSON.stringify(frames)}`,
      ).toEqual([]);
      (timings.webgpu ??= []).push(...run.stepSeconds);
    });
  }

  test('exports the adapter as a PEFT zip and re-imports it with equal prompt_embeddings', async () => {
    const { adapterId } = trained.at(-1) ?? { adapterId: '' };
    expect(adapterId).toBeTruthy();
    await page.getByTestId('tab-adapters').click();
    const card = page.locator(`[data-adapter-id="${adapterId}"]`);
    const [download] = await Promise.all([page.waitForEvent('download'), card.getByTestId('download-zip').click()]);
    expect(download.suggestedFilename()).toMatch(/\.zip$/);
    const entries = unzipSync(new Uint8Array(readFileSync(await download.path())));
    const names = Object.keys(entries);
    const file = (n: string) => entries[names.find((x) => x.endsWith(`/${n}`)) as string];
    for (const n of ['adapter_config.json', 'adapter_model.safetensors', 'README.md', 'train_peft.py', 'dataset.jsonl']) expect(file(n), n).toBeDefined();
    const config = JSON.parse(new TextDecoder().decode(file('adapter_config.json')));
    expect(config).toMatchObject({ peft_type: 'PROMPT_TUNING', task_type: 'CAUSAL_LM', num_virtual_tokens: 8, prompt_tuning_init: 'RANDOM' });
    const exported = parseSafetensors(file('adapter_model.safetensors'), 'adapter_model.safetensors').get('prompt_embeddings');
    const trainedValues = await storedPrompt(page, adapterId);
    expect(exported.shape).toEqual([8, trainedValues.length / 8]);
    expect(Array.from(exported.data)).toEqual(trainedValues);
    expect(new TextDecoder().decode(file('train_peft.py'))).toContain('accelerate launch train_peft.py');
    // A built-in base model exists only in the app: the zip carries it for the Python side.
    const base = (await state<{ name: string }[]>('embedded'))[0].name;
    expect(file(`${base}/model.safetensors`)).toBeDefined();
    expect(new TextDecoder().decode(file('README.md'))).toContain(`from_pretrained("${base}")`);

    await page.getByTestId('import-input').setInputFiles(await download.path());
    await expect.poll(() => state<string>('activeAdapterId')).not.toBe(adapterId);
    const importedId = await state<string>('activeAdapterId');
    expect(await page.locator(`[data-adapter-id="${importedId}"] .badge.imported`).count()).toBe(1);
    expect(await storedPrompt(page, importedId)).toEqual(trainedValues);
  });

  test('evaluates a trained adapter on the rows its run held out, and its card names them', async () => {
    const { adapterId } = trained.at(-1) ?? { adapterId: '' };
    await page.getByTestId('tab-adapters').click();
    const card = page.locator(`[data-adapter-id="${adapterId}"]`);
    if (await card.getByRole('button', { name: 'Use', exact: true }).count()) await card.getByRole('button', { name: 'Use', exact: true }).click();
    await expect.poll(() => state<string>('activeAdapterId')).toBe(adapterId);
    await page.getByTestId('tab-evaluate').click();
    // The run's stored rows, not a split made again from the current settings.
    expect(await page.locator('.evaluate-panel .static').textContent()).toMatch(/rows run ".*" held out/);
    await page.locator('.evaluate-panel input[type=number]').first().fill('4');
    await page.getByTestId('evaluate').click();
    await page.getByTestId('eval-results').waitFor({ timeout: 120_000 });
    await page.getByTestId('tab-adapters').click();
    await expect.poll(() => card.textContent()).toMatch(/held-out accuracy/);
    expect(await card.locator('[title^="measured on the first 4 of the"]').count()).toBe(1);
  });

  test('takes an uploaded CSV, maps its columns, and names the file and line of a broken one', async () => {
    const csv = 'tweet,verdict\n"@shop my order never came, awful",complaint\n"thanks for the quick reply",no complaint\n"where is my refund?",complaint\n';
    await page.getByTestId('dataset-file').setInputFiles({ name: 'mine.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await expect.poll(() => state<string>('dataset.name')).toBe('mine.csv');
    expect(await state<{ input: string; target: string }>('mapping')).toMatchObject({ input: 'tweet', target: 'verdict' });
    await page.getByTestId('template').fill('Tweet text : {tweet} Label : ');
    await expect.poll(() => page.getByTestId('token-preview').textContent()).toContain('␣L');
    await expect.poll(() => state<number>('stats.trainCount')).toBeGreaterThan(0);
    await page.getByTestId('dataset-file').setInputFiles({ name: 'broken.csv', mimeType: 'text/csv', buffer: Buffer.from('text,label\n"never closed,complaint\n') });
    await expect.poll(() => page.getByTestId('data-error').textContent()).toContain('broken.csv:2: quoted field is never closed');
    await useDataset(page, 'smoke');
    expect(await page.getByTestId('data-error').count()).toBe(0);
  });

  test('shows a clear error for corrupt or mismatched adapter files', async () => {
    const input = page.getByTestId('import-input');
    const error = page.getByTestId('import-error');
    const config = new TextEncoder().encode(JSON.stringify({ peft_type: 'PROMPT_TUNING', task_type: 'CAUSAL_LM', num_virtual_tokens: 4, token_dim: 32 }));
    const garbage = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 1, 2, 3]);
    await input.setInputFiles([
      { name: 'adapter_config.json', mimeType: 'application/json', buffer: Buffer.from(config) },
      { name: 'adapter_model.safetensors', mimeType: 'application/octet-stream', buffer: garbage },
    ]);
    await expect.poll(() => error.textContent()).toContain('adapter_model.safetensors');

    await input.setInputFiles({ name: 'broken.zip', mimeType: 'application/zip', buffer: Buffer.from('PK\u0003\u0004 this is not really a zip archive') });
    await expect.poll(() => error.textContent()).toContain('broken.zip: not a readable zip archive');

    const wide = new TextEncoder().encode(JSON.stringify({ peft_type: 'PROMPT_TUNING', num_virtual_tokens: 2, token_dim: 48 }));
    const { writeSafetensors } = await import('../src/engine/io/safetensors.ts');
    const weights = writeSafetensors({ prompt_embeddings: { shape: [2, 48], data: new Float32Array(96) } });
    const zip = zipSync({ 'other/adapter_config.json': wide, 'other/adapter_model.safetensors': weights });
    await input.setInputFiles({ name: 'other-model.zip', mimeType: 'application/zip', buffer: Buffer.from(zip) });
    await expect.poll(() => error.textContent()).toContain('48 wide but the loaded model');
  });

  test('finds every adapter still listed after a reload', async () => {
    const before = await page.getByTestId('adapter-card').count();
    expect(before).toBeGreaterThanOrEqual(4);
    await page.reload();
    await waitForModel(page);
    await page.getByTestId('tab-adapters').click();
    await expect.poll(() => page.getByTestId('adapter-card').count()).toBe(before);
    for (const t of trained) expect(await page.locator(`[data-adapter-id="${t.adapterId}"]`).count()).toBe(1);
  });

  test('loads a model through the Hub path (local server in the Hub URL layout), names what the cache could not keep, then loads it again with the server stopped', async () => {
    // A server of its own, so that it can be stopped: the second load must need no network.
    const hub = await startHubServer([{ id: 'test-org/tiny-gpt2', dir: 'test/fixtures/tiny-gpt2' }]);
    const hubCommit = hub.commitOf('test-org/tiny-gpt2');
    const loadFromHub = async (id = 'test-org/tiny-gpt2') => {
      await page.getByTestId('model-source-hub').click();
      if (!(await page.getByTestId('hub-endpoint').isVisible())) await page.locator('details.advanced summary', { hasText: 'Endpoint and token' }).click();
      await page.getByTestId('hub-endpoint').fill(hub.url);
      await page.getByTestId('hub-id').fill(id);
      await page.getByTestId('hub-revision').fill('main');
      await page.getByTestId('hub-load').click();
    };
    try {
      await openApp(page, baseUrl, { backend: 'wasm' });
      await waitForModel(page);
      await loadFromHub('test-org/no-such-model');
      await expect.poll(() => page.getByTestId('model-error').textContent()).toContain('test-org/no-such-model: no such model');

      // A quota too small for the weights: the model loads, and the panel names the file it could not keep.
      const cdp = await context.newCDPSession(page);
      const origin = new URL(baseUrl).origin;
      const { usage } = await page.evaluate(async () => navigator.storage.estimate());
      await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: (usage ?? 0) + 60_000 });
      await loadFromHub();
      await waitForModel(page, 'test-org/tiny-gpt2');
      expect(await page.getByTestId('model-source').textContent()).toContain(hubCommit.slice(0, 10));
      expect(await state<string>('model.origin.commit')).toBe(hubCommit);
      expect(await state<number>('model.downloadedBytes')).toBeGreaterThan(0);
      const problems = page.getByTestId('cache-problems');
      await expect.poll(() => problems.textContent()).toMatch(/model\.safetensors.*quota/);
      expect(await problems.locator('li').count()).toBe(1);
      expect(await problems.locator('li').getAttribute('data-reason')).toBe('quota');
      await cdp.send('Storage.overrideQuotaForOrigin', { origin });

      // With room, the next load keeps the weights too; the files already kept come from the cache.
      await page.reload();
      await waitForModel(page);
      await loadFromHub();
      await waitForModel(page, 'test-org/tiny-gpt2');
      expect(await state<number>('model.downloadedBytes')).toBe(185_768);
      expect(await state<unknown[]>('model.cacheProblems')).toEqual([]);
      expect(await page.getByTestId('cache-problems').count()).toBe(0);

      // No network: the server is gone, and the revision, the weights and the absent files all come from the cache.
      await hub.close();
      const requests = hub.requests.length;
      await page.reload();
      await waitForModel(page);
      await loadFromHub();
      await waitForModel(page, 'test-org/tiny-gpt2');
      expect(hub.requests.length).toBe(requests);
      expect(await state<string>('model.origin.commit')).toBe(hubCommit);
      expect(await state<number>('model.downloadedBytes')).toBe(0);
      expect(await state<number>('model.cachedBytes')).toBeGreaterThan(185_768);
      const info = page.getByTestId('cache-info');
      await expect.poll(() => info.textContent()).toContain('test-org/tiny-gpt2');
      expect(await page.getByTestId('storage-usage').textContent()).toMatch(/storage in use [\d.]+ [KMG]B of [\d.]+ [KMG]B/);
      expect(await state<unknown[]>('model.cacheProblems')).toEqual([]);
    } finally {
      await hub.close().catch(() => undefined);
    }
  });

  test('switching the backend right away reloads the model there and keeps the data, settings and runs', async () => {
    await openApp(page, baseUrl, { backend: 'webgpu' });
    const badge = page.getByTestId('backend-badge');
    await badge.waitFor();
    await page.getByTestId('epochs').fill('5');
    // A new user follows the software-adapter banner at once, while the model may still be loading.
    if ((await badge.getAttribute('data-fallback')) === 'true') await page.getByTestId('software-gpu').getByRole('button', { name: 'Switch to WASM' }).click();
    else {
      await badge.click();
      await page.getByRole('button', { name: 'Switch to WASM' }).click();
    }
    await expect.poll(() => badge.getAttribute('data-backend'), { timeout: 60_000 }).toBe('wasm');
    await waitForModel(page);
    const train = page.getByRole('button', { name: 'Train', exact: true });
    await expect.poll(() => train.isEnabled(), { timeout: 30_000 }).toBe(true);
    expect(await page.getByTestId('epochs').inputValue()).toBe('5');
    expect(await state<string>('dataset.name')).toBe('complaint');
    expect((await state<unknown[]>('runs')).length).toBeGreaterThanOrEqual(trained.length);
  });

  test('after a WebGPU device loss, restarts on WASM and resumes from the last checkpoint', async () => {
    await openApp(page, baseUrl, { backend: 'webgpu' });
    await waitForModel(page);
    await useDataset(page, 'smoke');
    await configure(page, { init: 'TEXT', steps: 8, batchSize: 2, maxLength: 32 });
    await page.getByTestId('train-start').click();
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=run-progress]')?.getAttribute('data-step')) >= 6, null, { timeout: 120_000 });
    await page.evaluate(() => (globalThis as unknown as { __playground: { loseDevice(): Promise<void> } }).__playground.loseDevice());
    await page.getByTestId('device-lost').waitFor();
    await page.getByRole('button', { name: 'Restart on WASM' }).click();
    await page.getByTestId('recovery').waitFor();
    expect(await page.getByTestId('recovery').textContent()).toContain('WebGPU device lost');
    expect(await page.getByTestId('recovery-resume').textContent()).toBe('Resume from step 5');
    await page.getByTestId('recovery-resume').click();
    await page.waitForFunction(() => document.querySelector('[data-testid=run-progress]')?.getAttribute('data-status') === 'completed', null, { timeout: 120_000 });
    expect(await page.getByTestId('backend-badge').getAttribute('data-backend')).toBe('wasm');
    expect(await page.getByTestId('run-step').textContent()).toContain('step 8 / 8');
  });

  test('pauses and resumes; after a reload during training, says so and resumes from the checkpoint', async () => {
    await openApp(page, baseUrl, { backend: 'wasm' });
    await waitForModel(page);
    await useDataset(page, 'smoke');
    await configure(page, { init: 'SAMPLE_VOCAB', epochs: 40, batchSize: 2, maxLength: 32 });
    await page.getByTestId('train-start').click();
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=run-progress]')?.getAttribute('data-step')) >= 12, null, { timeout: 60_000 });
    const time = await state<number[]>('run.history.time');
    expect(time.length).toBeGreaterThanOrEqual(12);
    (timings.wasm ??= []).push(...time.slice(1).map((t, i) => t - time[i]));
    // Pause writes a checkpoint at the step it stops on; resume carries on from there.
    await page.getByTestId('train-pause').click();
    await page.waitForFunction(() => document.querySelector('[data-testid=run-progress]')?.getAttribute('data-status') === 'paused');
    const pausedAt = Number(await page.getByTestId('run-progress').getAttribute('data-step'));
    await expect.poll(() => state<number>('run.lastCheckpoint.step')).toBe(pausedAt);
    await page.waitForTimeout(600);
    expect(Number(await page.getByTestId('run-progress').getAttribute('data-step'))).toBe(pausedAt);
    await page.getByTestId('train-resume').click();
    await page.waitForFunction((n) => Number(document.querySelector('[data-testid=run-progress]')?.getAttribute('data-step')) >= n + 6, pausedAt, { timeout: 60_000 });
    await page.reload();
    await page.getByTestId('recovery').waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('recovery').textContent()).toContain('reloaded or closed while it was training');
    await waitForModel(page);
    const resume = page.getByTestId('recovery-resume');
    const from = Number((await resume.textContent())?.match(/Resume from step (\d+)/)?.[1]);
    expect(from).toBeGreaterThanOrEqual(pausedAt);
    await resume.click();
    await page.waitForFunction((min) => Number(document.querySelector('[data-testid=run-progress]')?.getAttribute('data-step')) >= min, from + 10, { timeout: 60_000 });
    await page.getByTestId('train-stop').click();
    await page.waitForFunction(() => document.querySelector('[data-testid=run-progress]')?.getAttribute('data-status') === 'stopped', null, { timeout: 60_000 });
    expect(log.errors.filter((e) => !e.includes('device') && !e.includes('WebGPU'))).toEqual([]);
  });
});
