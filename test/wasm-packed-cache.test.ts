// XNNPACK's packed copies of a product's right operand on WASM (src/engine/kernels/wasm-packed-cache.ts):
// kept only for a reused operand and within the budget, and the products are the same either way.
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initNodeBackend } from '../src/node/backend.ts';
import { PACKED_CACHE_BYTES, packedCacheBytes, setPackedCacheBudget } from '../src/engine/kernels/wasm-packed-cache.ts';
import { maxBufferBytes, WASM_TABLE_CHUNK_BYTES } from '../src/engine/device-limits.ts';

beforeAll(async () => {
  expect(await initNodeBackend('wasm')).toBe('wasm');
});
afterEach(() => setPackedCacheBudget(PACKED_CACHE_BYTES));

const cachedNow = () => packedCacheBytes(tf.backend());

describe('WASM packed-operand cache', () => {
  it('packs a one-off operand per product, keeps a reused one, and gives the same products', async () => {
    const a = tf.randomNormal([64, 96], 0, 1, 'float32', 1) as tf.Tensor2D;
    const w = tf.randomNormal([96, 128], 0, 1, 'float32', 2) as tf.Tensor2D;
    const base = cachedNow();
    const first = tf.matMul(a, w);
    expect(cachedNow()).toBe(base); // first use: not kept
    const second = tf.matMul(a, w);
    expect(cachedNow()).toBe(base + 96 * 128 * 4); // reused: kept
    const third = tf.matMul(a, w);
    const [x, y, z] = await Promise.all([first.data(), second.data(), third.data()]);
    expect(Array.from(y)).toEqual(Array.from(x));
    expect(Array.from(z)).toEqual(Array.from(x));
    w.dispose();
    expect(cachedNow()).toBe(base); // disposed with its operand
    tf.dispose([a, first, second, third]);
  });

  it('packs per product once the budget is spent, and the heap stays flat across products', async () => {
    setPackedCacheBudget(0);
    const a = tf.randomNormal([32, 512]) as tf.Tensor2D;
    const w = tf.randomNormal([512, 1024]) as tf.Tensor2D;
    const ref = await tf.matMul(a, w).data();
    const heap = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;
    const before = heap();
    for (let i = 0; i < 20; i++) {
      const y = tf.matMul(a, w);
      expect(Array.from(await y.data())).toEqual(Array.from(ref));
      y.dispose();
    }
    expect(cachedNow()).toBe(0);
    expect(heap()).toBe(before);
    tf.dispose([a, w]);
  });

  it('splits embedding tables into chunks that bound the packed copy', () => {
    expect(maxBufferBytes()).toBe(WASM_TABLE_CHUNK_BYTES);
  });
});
