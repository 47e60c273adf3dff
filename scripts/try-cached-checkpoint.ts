// By hand, outside the test suite: a real-size checkpoint through the page's Hub tab, then a reload
// of the page with the Hub server stopped, which must load it from Cache Storage. Prints the times
// and what the model panel says, and saves screenshots of the panel.
//   npm run build && node --import tsx scripts/try-cached-checkpoint.ts --dir /work/big/stream/qwen2.5-0.5b-bf16 --id Qwen/Qwen2.5-0.5B [--backend wasm] [--out /tmp/shots]
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { preview } from 'vite';
import { startHubServer } from '../test/support/hub-server.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name: string, fallback?: string) => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i < 0 ? fallback : process.argv[i + 1];
  if (v === undefined) throw new Error(`--${name} is required`);
  return v;
};
const dir = arg('dir');
const id = arg('id');
const backend = arg('backend', 'wasm');
const out = arg('out', '/tmp/try-cached-checkpoint');
mkdirSync(out, { recursive: true });

type State = { modelStatus: string; modelError: string | null; model: (Record<string, unknown> & { origin: { id: string } }) | null };
const state = (page: Page) => page.evaluate(() => (globalThis as unknown as { __playground: { state(): State } }).__playground.state()) as Promise<State>;

async function waitReady(page: Page, name: string | null, timeout: number): Promise<void> {
  await page.waitForFunction(
    (n) => {
      const s = (globalThis as unknown as { __playground?: { state(): State } }).__playground?.state();
      if (s?.modelStatus === 'error' || (n && s?.modelError)) throw new Error(s?.modelError ?? 'load failed');
      return s?.modelStatus === 'ready' && s.model !== null && (!n || s.model.origin.id === n);
    },
    name,
    { timeout, polling: 250 },
  );
}

const server = await preview({ root, logLevel: 'warn', preview: { host: '127.0.0.1', port: 0, strictPort: false } });
const address = server.httpServer.address();
if (!address || typeof address === 'string') throw new Error('vite preview did not report a port');
const baseUrl = `http://127.0.0.1:${address.port}/`;
const hub = await startHubServer([{ id, dir }]);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--enable-unsafe-webgpu', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});
const report: Record<string, unknown> = { id, dir, backend };
try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 1100 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  const load = async (label: string) => {
    await page.goto(`${baseUrl}?backend=${backend}`);
    await waitReady(page, null, 180_000);
    await page.getByTestId('model-source-hub').click();
    await page.locator('details.advanced summary', { hasText: 'Endpoint and token' }).click();
    await page.getByTestId('hub-endpoint').fill(hub.url);
    await page.getByTestId('hub-id').fill(id);
    await page.getByTestId('hub-revision').fill('main');
    const t0 = performance.now();
    await page.getByTestId('hub-load').click();
    // The panel while the weights stream in.
    await page.waitForTimeout(4000);
    if ((await state(page)).modelStatus === 'loading') await page.locator('#model').screenshot({ path: path.join(out, `${label}-loading.png`) });
    await waitReady(page, id, 900_000);
    const seconds = (performance.now() - t0) / 1000;
    await page.waitForTimeout(1500); // the cache summary refreshes after the load
    await page.locator('#model').screenshot({ path: path.join(out, `${label}-loaded.png`) });
    const s = await state(page);
    const m = s.model as Record<string, unknown>;
    report[label] = {
      seconds: Number(seconds.toFixed(1)),
      loadSeconds: m.loadSeconds,
      downloadedBytes: m.downloadedBytes,
      cachedBytes: m.cachedBytes,
      cacheProblems: m.cacheProblems,
      weightBytes: m.weightBytes,
      commit: (m.origin as { commit: string | null }).commit,
      facts: (await page.getByTestId('model-facts').innerText()).replace(/\s+/g, ' '),
      cacheInfo: (await page.getByTestId('cache-info').innerText()).replace(/\s+/g, ' '),
    };
    console.log(label, JSON.stringify(report[label]));
  };
  await load('first');
  await hub.close();
  const served = hub.requests.length;
  await load('offline');
  report.requestsWhileStopped = hub.requests.length - served;
} finally {
  await browser.close();
  await hub.close().catch(() => undefined);
  await new Promise<void>((resolve) => server.httpServer.close(() => resolve()));
}
console.log(JSON.stringify(report, null, 2));
