// Drives the benchmark page in Debian's Chromium (WebGPU on whatever adapter it has; here the
// SwiftShader software one) through a Vite dev server with cross-origin isolation, so WASM
// gets SharedArrayBuffer and threads.
import { chromium } from 'playwright-core';
import { createServer } from 'vite';
import type { AddressInfo } from 'node:net';
import type { BenchRow } from './row.ts';
import type { Outcome } from './report.ts';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--enable-unsafe-webgpu', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

export async function runBrowserRows(
  root: string,
  backends: string[],
  models: string[],
  run: { steps: number; warmup: number; profile: boolean },
  timeoutS: number,
  hopeless: (gflops: number | undefined, model: string) => string | null,
  hubOf: (model: string) => { hub: string; repo: string; fileBytes: number } | null = () => null,
): Promise<Outcome[]> {
  const server = await createServer({
    root,
    configFile: false,
    logLevel: 'error',
    appType: 'mpa',
    server: { host: '127.0.0.1', port: 0, headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } },
  });
  await server.listen();
  const { port } = server.httpServer!.address() as AddressInfo;
  const out: Outcome[] = [];
  try {
    for (const backend of backends) {
      let speed: number | undefined;
      for (const model of models) {
        const skip = hopeless(speed, model);
        if (skip) {
          out.push({ platform: 'browser', backend, model, skipped: skip });
          continue;
        }
        // A browser per row: one whose step holds the page's thread is killed with its browser,
        // and cannot take CPU from the rows after it.
        const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
        const page = await browser.newPage();
        page.setDefaultTimeout(timeoutS * 1000);
        page.on('console', (m) => process.stderr.write(`  [${backend} ${model}] ${m.text()}\n`));
        try {
          const q = new URLSearchParams({ backend, model, steps: String(run.steps), warmup: String(run.warmup), profile: run.profile ? '1' : '0' });
          const h = hubOf(model);
          if (h) for (const [k, v] of Object.entries(h)) q.set(k, String(v));
          await page.goto(`http://127.0.0.1:${port}/bench/index.html?${q}`);
          // The deadline is kept here, not in the page: a step that holds the page's thread for
          // minutes also stalls Playwright's in-page polling and its timeout.
          let timer: ReturnType<typeof setTimeout> | undefined;
          const deadline = new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error('Timeout')), timeoutS * 1000);
          });
          try {
            await Promise.race([page.waitForFunction(() => '__benchResult' in window || '__benchError' in window, undefined, { timeout: 0, polling: 1000 }), deadline]);
          } finally {
            clearTimeout(timer);
          }
          const { result, error } = await page.evaluate(() => ({
            result: (window as unknown as { __benchResult?: unknown }).__benchResult,
            error: (window as unknown as { __benchError?: string }).__benchError,
          }));
          if (result) {
            const row = result as BenchRow;
            speed = row.matmulGflops;
            out.push({ row });
          } else out.push({ platform: 'browser', backend, model, skipped: String(error) });
        } catch (e) {
          const message = (e as Error).message.includes('Timeout') ? `did not finish within ${timeoutS} s on this machine` : (e as Error).message.split('\n')[0];
          out.push({ platform: 'browser', backend, model, skipped: message });
        } finally {
          await browser.close();
        }
        process.stderr.write(`browser ${backend} ${model}: ${'row' in out.at(-1)! ? 'done' : (out.at(-1) as { skipped: string }).skipped}\n`);
      }
    }
  } finally {
    await server.close();
  }
  return out;
}
