// Chromium through playwright-core (Debian's /usr/bin/chromium, never a downloaded browser) and
// helpers that drive the playground the way a person does: through its controls.
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--enable-unsafe-webgpu', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

export interface PageLog {
  errors: string[];
  console: string[];
}

/** Records long main-thread tasks (PerformanceObserver 'longtask') from the first script on. */
const LONGTASK_RECORDER = `
  window.__longtasks = [];
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__longtasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
  } catch {}
  window.__loaf = [];
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__loaf.push({ start: e.startTime, duration: e.duration, blocking: e.blockingDuration, render: e.renderStart ? e.startTime + e.duration - e.renderStart : 0, scripts: (e.scripts || []).map((s) => ({ invoker: s.invoker, source: s.sourceFunctionName + ' ' + (s.sourceURL || '').split('/').pop() + ':' + s.sourceCharPosition, duration: s.duration, forcedLayout: s.forcedStyleAndLayoutDuration })) });
    }).observe({ type: 'long-animation-frame', buffered: true });
  } catch {}
`;

export async function newContext(browser: Browser): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 }, acceptDownloads: true, deviceScaleFactor: 1 });
  await context.addInitScript(LONGTASK_RECORDER);
  return context;
}

export function recordLog(page: Page): PageLog {
  const log: PageLog = { errors: [], console: [] };
  page.on('pageerror', (e) => log.errors.push(e.message));
  page.on('console', (m) => {
    const text = m.text();
    // Probing for optional files (the demo model, datasets not yet shipped) answers 404 by design.
    if (m.type() === 'error' && !text.includes('404')) log.errors.push(text);
    log.console.push(`${m.type()}: ${text}`);
  });
  return log;
}

export async function openApp(page: Page, baseUrl: string, params: Record<string, string> = {}): Promise<void> {
  const url = new URL(baseUrl);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  await page.goto(url.href);
}

export async function waitForModel(page: Page, name?: string, timeout = 90_000): Promise<void> {
  await page.waitForFunction(
    (n) => {
      const s = (globalThis as unknown as { __playground?: { state(): { modelStatus: string; model: { origin: { id: string } } | null } } }).__playground?.state();
      return s?.modelStatus === 'ready' && s.model !== null && (!n || s.model.origin.id === n);
    },
    name ?? null,
    { timeout, polling: 200 },
  );
}

export async function useDataset(page: Page, id: string): Promise<void> {
  await page.getByTestId('builtin-dataset').selectOption(id);
  await page.waitForFunction((d) => {
    const s = (globalThis as unknown as { __playground: { state(): { dataset: { name: string } | null; stats: unknown } } }).__playground.state();
    return s.dataset?.name === d && s.stats !== null;
  }, id);
}

export interface RunSettings {
  init?: 'TEXT' | 'SAMPLE_VOCAB' | 'RANDOM';
  steps?: number;
  epochs?: number;
  batchSize?: number;
  maxLength?: number;
  virtualTokens?: number;
}

export async function configure(page: Page, s: RunSettings): Promise<void> {
  if (s.init) await page.getByTestId(`init-${s.init}`).check();
  if (s.virtualTokens) await page.getByTestId('num-virtual-tokens').fill(String(s.virtualTokens));
  if (s.batchSize) await page.getByTestId('batch-size').fill(String(s.batchSize));
  if (s.maxLength) await page.getByTestId('max-length').fill(String(s.maxLength));
  if (s.epochs) await page.getByTestId('epochs').fill(String(s.epochs));
  await page.getByTestId('max-steps').fill(s.steps ? String(s.steps) : '');
  // Stats follow the settings after a short debounce.
  await page.waitForTimeout(400);
}

export interface RunOutcome {
  status: string;
  steps: number;
  losses: number[];
  tensorCounts: number[];
  adapterId: string | null;
  chartPoints: number[];
  seconds: number;
  stepSeconds: number[];
}

type RunView = { status: string; adapterId: string | null; history: { loss: number[]; time: number[] }; tensorCounts: number[] };
const runOf = (page: Page) => page.evaluate(() => (globalThis as unknown as { __playground: { state(): { run: RunView | null } } }).__playground.state().run);

/** Presses Train and waits for the run to end; samples the loss chart's point count as it grows. */
export async function trainAndWait(page: Page, timeout = 180_000): Promise<RunOutcome> {
  const t0 = Date.now();
  await page.getByTestId('train-start').click();
  const chartPoints: number[] = [];
  for (;;) {
    const status = await page
      .getByTestId('run-progress')
      .getAttribute('data-status')
      .catch(() => null);
    const points = await page
      .getByTestId('loss-chart')
      .getAttribute('data-points')
      .catch(() => null);
    if (points !== null && Number(points) !== chartPoints.at(-1)) chartPoints.push(Number(points));
    if (status && ['completed', 'stopped', 'failed', 'interrupted'].includes(status)) break;
    if (Date.now() - t0 > timeout) throw new Error(`training did not finish in ${timeout / 1000} s (status ${status})`);
    await page.waitForTimeout(150);
  }
  const run = (await runOf(page)) as RunView;
  const time = run.history.time;
  return {
    status: run.status,
    steps: run.history.loss.length,
    losses: run.history.loss,
    tensorCounts: run.tensorCounts,
    adapterId: run.adapterId,
    chartPoints,
    seconds: (Date.now() - t0) / 1000,
    stepSeconds: time.slice(1).map((t, i) => t - time[i]),
  };
}

/** An adapter's prompt_embeddings as stored in IndexedDB. */
export async function storedPrompt(page: Page, adapterId: string): Promise<number[]> {
  return page.evaluate(
    (id) =>
      new Promise<number[]>((resolve, reject) => {
        const open = indexedDB.open('prompt-tuning-playground');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const get = open.result.transaction('tensors').objectStore('tensors').get(`adapter:${id}`);
          get.onsuccess = () => {
            open.result.close();
            if (!get.result) reject(new Error(`no stored prompt for adapter ${id}`));
            else resolve(Array.from(get.result.values as Float32Array));
          };
          get.onerror = () => reject(get.error);
        };
      }),
    adapterId,
  );
}

export async function longTasks(page: Page): Promise<{ start: number; duration: number }[]> {
  return page.evaluate(() => (globalThis as unknown as { __longtasks: { start: number; duration: number }[] }).__longtasks);
}

/** Long animation frames with script attribution (to explain a long task). */
export async function longFrames(page: Page): Promise<unknown[]> {
  return page.evaluate(() => (globalThis as unknown as { __loaf: unknown[] }).__loaf);
}

export interface MainThreadTask {
  /** Wall-clock duration. */
  wallMs: number;
  /** CPU time the renderer's main thread spent in the task (preemption by other processes excluded). */
  cpuMs: number;
}

/** Runs `fn` under a Chrome trace; its result and the page's main-thread tasks meanwhile. */
export async function traceMainThread<T>(browser: Browser, page: Page, fn: () => Promise<T>): Promise<{ result: T; tasks: MainThreadTask[] }> {
  await browser.startTracing(page, { categories: ['toplevel', 'disabled-by-default-devtools.timeline'] });
  const done = fn().then(
    (result) => ({ result, failure: null }),
    (e: unknown) => ({ result: null, failure: e }),
  );
  const { result, failure } = await done;
  const trace = JSON.parse((await browser.stopTracing()).toString('utf8')) as { traceEvents: { name: string; pid: number; tid: number; dur?: number; tdur?: number; args?: { name?: string } }[] };
  if (failure) throw failure;
  const main = new Set(trace.traceEvents.filter((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain').map((e) => `${e.pid}:${e.tid}`));
  const tasks = trace.traceEvents
    .filter((e) => e.name === 'RunTask' && main.has(`${e.pid}:${e.tid}`) && e.dur !== undefined)
    .map((e) => ({ wallMs: (e.dur as number) / 1000, cpuMs: (e.tdur ?? e.dur ?? 0) / 1000 }));
  return { result: result as T, tasks };
}

export async function pageNow(page: Page): Promise<number> {
  return page.evaluate(() => performance.now());
}
