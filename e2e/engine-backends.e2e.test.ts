// The engine in Chromium on each backend the app uses, against the PyTorch reference fixtures:
// WebGPU (with the fused kernels, and with embeddings split to fit a tiny buffer limit) and WASM.
import type { AddressInfo } from 'node:net';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launch } from './support/browser.ts';
import type { DropoutCheck, ModelCheck } from './pages/engine-check.ts';

let server: ViteDevServer;
let browser: Browser;
let base: string;

beforeAll(async () => {
  // A dev server serves the check page and test/fixtures as they are in the repo.
  server = await createServer({ root: path.resolve(import.meta.dirname, '..'), logLevel: 'error', server: { host: '127.0.0.1', port: 0 } });
  await server.listen();
  base = `http://127.0.0.1:${(server.httpServer!.address() as AddressInfo).port}`;
  browser = await launch();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function runChecks(query: string): Promise<{ backend: string; checks: ModelCheck[]; dropout: DropoutCheck[] }> {
  const page = await browser.newPage();
  try {
    await page.goto(`${base}/e2e/pages/engine-check.html?${query}`);
    await page.waitForFunction(() => '__engineCheck' in window || '__engineCheckError' in window, undefined, { timeout: 600_000, polling: 500 });
    const { result, error } = await page.evaluate(() => ({
      result: (window as unknown as { __engineCheck?: { backend: string; checks: ModelCheck[]; dropout: DropoutCheck[] } }).__engineCheck,
      error: (window as unknown as { __engineCheckError?: string }).__engineCheckError,
    }));
    if (!result) throw new Error(error);
    return result;
  } finally {
    await page.close();
  }
}

function expectDropout(dropout: DropoutCheck[]): void {
  expect(dropout.map((d) => d.variant)).toEqual(['gpt2', 'bloom', 'llama']);
  for (const d of dropout) {
    expect(d.err, `${d.variant} gradient with dropout`).toBeLessThanOrEqual(1e-4 * d.scale);
    expect(d.errWithoutMasks, `${d.variant} gradient without the masks`).toBeGreaterThan(1e-3 * d.scale);
  }
}

function expectMatches(checks: ModelCheck[]): void {
  for (const c of checks) {
    // SPEC.md tolerances: 1e-4 relative for tensors, 1e-5 for the loss, exact ids.
    expect(c.logits.err, `${c.model} logits`).toBeLessThanOrEqual(1e-4 * c.logits.scale);
    expect(Math.abs(c.loss.got - c.loss.want), `${c.model} loss`).toBeLessThanOrEqual(1e-5 * Math.max(1, c.loss.want));
    expect(c.grad.err, `${c.model} prompt gradient`).toBeLessThanOrEqual(1e-4 * c.grad.scale);
    expect(c.trained.err, `${c.model} 3 AdamW steps`).toBeLessThanOrEqual(1e-4 * c.trained.scale);
    expect(c.greedy.got, `${c.model} greedy ids`).toEqual(c.greedy.want);
    expect(c.mixed.got, `${c.model} mixed-adapter batch ids`).toEqual(c.mixed.want);
    expect(c.numTensorsAfterTrainFlat, `${c.model} numTensors flat`).toBe(true);
    if (c.left) {
      expect(c.left.logits.err, `${c.model} logits (left padding)`).toBeLessThanOrEqual(1e-4 * c.left.logits.scale);
      expect(Math.abs(c.left.loss.got - c.left.loss.want), `${c.model} loss (left padding)`).toBeLessThanOrEqual(1e-5 * Math.max(1, c.left.loss.want));
      expect(c.left.grad.err, `${c.model} prompt gradient (left padding)`).toBeLessThanOrEqual(1e-4 * c.left.grad.scale);
    }
    // Every float32 fixture has both TEXT-init cases; the 16-bit ones have none.
    expect(c.init.length, `${c.model} TEXT init cases`).toBe(/-(bf16|f16)$/.test(c.model) ? 0 : 2);
    for (const i of c.init) expect(i, `${c.model} TEXT init`).toEqual({ idsEqual: true, err: 0 });
  }
}

// Every family fixture (scripts/fixtures/make_families.py), with config.json (transformers 5 layout) and config.t4.json.
const FAMILY_MODELS = readdirSync(path.resolve(import.meta.dirname, '../test/fixtures/families'))
  .filter((n) => existsSync(path.resolve(import.meta.dirname, '../test/fixtures/families', n, 'config.json')))
  .sort()
  .flatMap((n) => [`families/${n}`, `families/${n}@t4`]);

/** Max error per model and case kind, as the Node fixture suite prints it. */
function errorTable(backend: string, checks: ModelCheck[]): string {
  const e = (x: number) => x.toExponential(2).padStart(9);
  return [
    `${backend}: model, logits, loss, grad, logits/loss/grad (left pad), 3 AdamW steps`,
    ...checks.map(
      (c) =>
        `${c.model.padEnd(28)} ${e(c.logits.err)} ${e(Math.abs(c.loss.got - c.loss.want))} ${e(c.grad.err)} ${c.left ? `${e(c.left.logits.err)} ${e(Math.abs(c.left.loss.got - c.left.loss.want))} ${e(c.left.grad.err)}` : ''.padEnd(29)} ${e(c.trained.err)}`,
    ),
  ].join('\n');
}

describe('engine on browser backends matches the PyTorch fixtures', () => {
  it('WebGPU, fused kernels, embeddings split to a 4 KB buffer limit', async () => {
    const { backend, checks, dropout } = await runChecks('backend=webgpu&models=tiny-gpt2,tiny-bloom,tiny-llama,tiny-qwen2&maxBufferBytes=4000');
    expect(backend).toBe('webgpu');
    expect(checks.map((c) => c.model)).toEqual(['tiny-gpt2', 'tiny-bloom', 'tiny-llama', 'tiny-qwen2']);
    expectMatches(checks);
    expectDropout(dropout);
  });

  // 16-bit checkpoints (scripts/fixtures/make_16bit.py): packed on the device, read by the WGSL
  // products and gathers directly, against transformers' float32 numbers for the same files.
  // SwiftShader takes about half a minute per model: WebGPU runs one dtype per family, WASM all six.
  const SIXTEEN = ['tiny-gpt2-bf16', 'tiny-llama-f16', 'tiny-bloom-bf16', 'tiny-gpt2-f16', 'tiny-llama-bf16', 'tiny-bloom-f16'];
  it('WebGPU, 16-bit weights kept packed, embeddings split to a 4 KB buffer limit', async () => {
    const { backend, checks } = await runChecks(`backend=webgpu&models=${SIXTEEN.slice(0, 3).join(',')}&maxBufferBytes=4000`);
    expect(backend).toBe('webgpu');
    expect(checks.length).toBe(3);
    expectMatches(checks);
    for (const c of checks) expect(c.packed, `${c.model} packed`).toBe(true);
  });

  it('WASM, 16-bit weights kept packed', async () => {
    const { backend, checks } = await runChecks(`backend=wasm&models=${SIXTEEN.join(',')}`);
    expect(backend).toBe('wasm');
    expect(checks.length).toBe(SIXTEEN.length);
    expectMatches(checks);
    for (const c of checks) expect(c.packed, `${c.model} packed`).toBe(true);
  });

  it('WASM', async () => {
    const { backend, checks, dropout } = await runChecks('backend=wasm&models=tiny-gpt2,tiny-bloom,tiny-llama,tiny-qwen2');
    expect(backend).toBe('wasm');
    expect(checks.map((c) => c.model)).toEqual(['tiny-gpt2', 'tiny-bloom', 'tiny-llama', 'tiny-qwen2']);
    expectMatches(checks);
    expectDropout(dropout);
  });

  // Two halves on WebGPU (SwiftShader runs the 22 models in about 10 minutes): each layout on its own.
  for (const layout of ['transformers-5 config.json', 'transformers-4 config.t4.json']) {
    it(`every family fixture, ${layout}: WebGPU, fused kernels, embeddings split to a 4 KB buffer limit`, async () => {
      const models = FAMILY_MODELS.filter((m) => m.endsWith('@t4') === layout.includes('t4'));
      const { backend, checks } = await runChecks(`backend=webgpu&models=${models.join(',')}&maxBufferBytes=4000`);
      expect(backend).toBe('webgpu');
      expect(checks.length).toBe(models.length);
      expectMatches(checks);
      console.log(errorTable('webgpu', checks));
    }, 900_000);
  }

  it('every family fixture, both config layouts: WASM', async () => {
    const { backend, checks } = await runChecks(`backend=wasm&models=${FAMILY_MODELS.join(',')}`);
    expect(backend).toBe('wasm');
    expect(checks.length).toBe(FAMILY_MODELS.length);
    expectMatches(checks);
    console.log(errorTable('wasm', checks));
  }, 900_000);
});
