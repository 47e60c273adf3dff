// Seconds from `npm start` to the first training step in the browser, as a new user meets it:
// the dev server starts, the page loads the built-in model and dataset, Train is pressed, and
// the first loss appears. The browser is started first (a user's browser is already open).
//   node --import tsx scripts/measure-first-step.ts [--backend wasm|webgpu] [--steps N]
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : process.argv[i + 1];
};
const backend = arg('backend', 'wasm');
const steps = Number(arg('steps', '1'));
const port = Number(arg('port', '5199'));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--enable-unsafe-webgpu', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});
const page = await browser.newPage();
const t0 = performance.now();
const server = spawn('npm', ['start', '--', '--port', String(port), '--strictPort'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], detached: true });
const since = () => ((performance.now() - t0) / 1000).toFixed(2);
try {
  await new Promise<void>((resolve, reject) => {
    server.stdout!.on('data', (d: Buffer) => d.toString().includes(`:${port}`) && resolve());
    server.on('exit', (code) => reject(new Error(`npm start exited with ${code}`)));
  });
  const ready = since();
  await page.goto(`http://127.0.0.1:${port}/?backend=${backend}`);
  const start = page.getByTestId('train-start');
  await start.waitFor({ state: 'visible', timeout: 120_000 });
  await page.waitForFunction(() => !(document.querySelector('[data-testid=train-start]') as HTMLButtonElement | null)?.disabled, undefined, { timeout: 120_000, polling: 50 });
  const trainable = since();
  await start.click();
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid=loss-chart]')?.getAttribute('data-points') ?? 0) >= n, steps, { timeout: 600_000, polling: 50 });
  process.stdout.write(JSON.stringify({ backend, serverReadySeconds: Number(ready), trainButtonReadySeconds: Number(trainable), [`step${steps}Seconds`]: Number(since()) }) + '\n');
} finally {
  await browser.close();
  process.kill(-server.pid!, 'SIGTERM');
}
