// The packed 16-bit weight kernels in Chromium, against float32 products of the same values:
// WebGPU (the WGSL kernels read the packed words) and WASM (widened before XNNPACK).
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launch } from './support/browser.ts';
import type { PackedCase } from './pages/packed-check.ts';

let server: ViteDevServer;
let browser: Browser;
let base: string;

beforeAll(async () => {
  server = await createServer({ root: path.resolve(import.meta.dirname, '..'), logLevel: 'error', server: { host: '127.0.0.1', port: 0 } });
  await server.listen();
  base = `http://127.0.0.1:${(server.httpServer!.address() as AddressInfo).port}`;
  browser = await launch();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function runPage<T>(page: string, key: string, timeout = 200_000): Promise<T> {
  const tab = await browser.newPage();
  try {
    await tab.goto(`${base}/e2e/pages/${page}`);
    await tab.waitForFunction((k) => k in window || `${k}Error` in window, key, { timeout, polling: 500 });
    const { result, error } = await tab.evaluate((k) => ({ result: (window as unknown as Record<string, unknown>)[k], error: (window as unknown as Record<string, unknown>)[`${k}Error`] }), key);
    if (!result) throw new Error(String(error));
    return result as T;
  } finally {
    await tab.close();
  }
}

describe('packed 16-bit weight kernels match float32 products', () => {
  for (const backend of ['webgpu', 'wasm']) {
    it(backend, async () => {
      const r = await runPage<{ backend: string; cases: PackedCase[] }>(`packed-check.html?backend=${backend}`, '__packedCheck');
      expect(r.backend).toBe(backend);
      expect(r.cases.length).toBe(72);
      // Widening is exact; products differ from tfjs's own only in summation order.
      for (const c of r.cases) expect(c.err, c.name).toBeLessThanOrEqual(c.name.startsWith('unpack') ? 0 : 1e-5);
    });
  }
});

// issue 10 item 5. About 3 minutes on SwiftShader (the LM head over 250,880 rows, forward and
// backward, at ~0.5 GFLOP/s), too slow for every run of the suite: E2E_SPEC_LIMITS=1 runs it.
describe.runIf(process.env.E2E_SPEC_LIMITS === '1')('WebGPU at the spec-minimum limits (128 MiB binding, 256 MiB buffer)', () => {
  it('a bloomz-560m-shaped model with F16 weights builds and runs forward and backward, equal to WASM', async () => {
    const r = await runPage<{
      limits: { maxStorageBufferBindingSize: number; maxBufferSize: number };
      webgpu: { loss: number; chunks: number; chunkBytes: number; weightBytes: number };
      wasm: { loss: number };
      grad: { err: number; scale: number; norm: number };
    }>('limits-check.html?layers=2', '__limitsCheck', 580_000);
    expect(r.limits).toEqual({ maxStorageBufferBindingSize: 128 * 2 ** 20, maxBufferSize: 256 * 2 ** 20 });
    // 250,880 x 1,024 F16 = 490 MiB: four chunks, none over the binding limit.
    expect(r.webgpu.chunks).toBe(4);
    expect(r.webgpu.chunkBytes).toBeLessThanOrEqual(128 * 2 ** 20);
    // Packed: the embedding and two blocks in F16 (float32 would be twice this).
    expect(r.webgpu.weightBytes).toBeLessThan(600e6);
    expect(Math.abs(r.webgpu.loss - r.wasm.loss)).toBeLessThanOrEqual(1e-5 * Math.max(1, r.wasm.loss));
    expect(r.grad.norm).toBeGreaterThan(0);
    expect(r.grad.err).toBeLessThanOrEqual(1e-4 * r.grad.scale);
  }, 600_000);
});
