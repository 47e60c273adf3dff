// On WASM the engine's loop kernels (kernels/wasm-loops.ts) run while a tensor is small and
// tfjs's ops (XNNPACK's vectorised sigmoid, products) above the thresholds measured there; both
// paths give the same values, forward and backward.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { attentionFlops, WASM_ATTENTION_GRAD_MAX_FLOPS, wasmAttentionMaxFlops, WASM_SWIGLU_MAX_ELEMENTS } from '../src/engine/kernels/wasm-loops.ts';
import { causalBias } from '../src/engine/models/layers.ts';
import { attentionBackward, attentionForward } from '../src/engine/ops/attention.ts';
import { kernel, swiGlu, swiGluGrad } from '../src/engine/ops/fused.ts';
import { initNodeBackend } from '../src/node/backend.ts';
import { maxAbsDiff } from './support/fixtures.ts';

beforeAll(async () => {
  await initNodeBackend();
  await tf.setBackend('wasm');
});

/** The kernels a call runs, by name. */
async function kernelsOf(f: () => tf.Tensor | tf.Tensor[]): Promise<string[]> {
  const info = await tf.profile(() => f());
  tf.dispose(info.result as tf.Tensor | tf.Tensor[]);
  return info.kernels.map((k) => k.name);
}

const close = async (a: tf.Tensor, b: tf.Tensor, tol: number) => {
  expect(a.shape).toEqual(b.shape);
  expect(maxAbsDiff(await a.data(), await b.data())).toBeLessThan(tol);
};

describe('SwiGLU on WASM', () => {
  const F = 96;
  const { forward, backward } = WASM_SWIGLU_MAX_ELEMENTS;
  for (const rows of [Math.floor(forward / F), Math.floor(forward / F) + 1, Math.floor(backward / F) + 1, 300]) {
    const [loop, loopGrad] = [rows * F <= forward, rows * F <= backward];
    it(`${rows} rows of ${F}: forward ${loop ? 'the loop kernel' : "tfjs's ops"}, backward ${loopGrad ? 'the loop kernel' : "tfjs's ops"}, equal to the loops`, async () => {
      const gu = tf.randomNormal([rows, 2 * F], 0, 3, 'float32', 7);
      const dh = tf.randomNormal([rows, F], 0, 1, 'float32', 8);
      expect(await kernelsOf(() => swiGlu(gu))).toEqual(loop ? ['PtSwiGlu'] : expect.arrayContaining(['Sigmoid']));
      expect(await kernelsOf(() => swiGluGrad(gu, dh))).toEqual(loopGrad ? ['PtSwiGluGrad'] : expect.arrayContaining(['Sigmoid']));
      const out = [swiGlu(gu), kernel('PtSwiGlu', { gu }), swiGluGrad(gu, dh), kernel('PtSwiGluGrad', { gu, dh })];
      await close(out[0], out[1], 1e-5);
      await close(out[2], out[3], 1e-5);
      tf.dispose([gu, dh, ...out]);
    });
  }
});

describe('attention on WASM', () => {
  // [B, heads, T = S, head size]: a decoding-sized product (loop both ways), one where only the
  // backward pass takes the products, and one where both do (the SIMD forward loop runs up to 32M).
  for (const [B, nh, T, hd] of [
    [1, 2, 8, 16],
    [4, 4, 32, 32],
    [8, 4, 96, 32],
  ]) {
    it(`B ${B}, ${nh} heads, T ${T}, head size ${hd}: the path its size picks equals the loop, forward and backward`, async () => {
      const q = tf.randomNormal([B, nh, T, hd], 0, 1, 'float32', 1) as tf.Tensor4D;
      const k = tf.randomNormal([B, nh, T, hd], 0, 1, 'float32', 2) as tf.Tensor4D;
      const v = tf.randomNormal([B, nh, T, hd], 0, 1, 'float32', 3) as tf.Tensor4D;
      const dO = tf.randomNormal([B, nh, T, hd], 0, 1, 'float32', 4) as tf.Tensor4D;
      // Causal, and the last row's first three keys masked (left padding).
      const bias = causalBias(
        Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, j) => (b === B - 1 && j < 3 ? 0 : 1))),
        T,
      );
      const flops = attentionFlops(q, k);
      const names = await kernelsOf(() => {
        const { o, saved } = attentionForward(q, k, v, bias, 0.3);
        return [o, saved.p];
      });
      expect(names.includes('PtAttention')).toBe(flops <= wasmAttentionMaxFlops(hd));
      const { o, saved } = attentionForward(q, k, v, bias, 0.3);
      expect((await kernelsOf(() => attentionBackward(dO, saved, 0.3))).includes('PtAttentionGrad')).toBe(flops <= WASM_ATTENTION_GRAD_MAX_FLOPS);
      const [oLoop, pLoop] = tf.engine().runKernel('PtAttention', { q, k, v, bias }, { scale: 0.3 }) as unknown as tf.Tensor[];
      await close(o, oLoop, 1e-5);
      await close(saved.p, pLoop, 1e-5);
      const grads = attentionBackward(dO, saved, 0.3);
      const loopGrads = tf.engine().runKernel('PtAttentionGrad', { dO, q, k, v, p: pLoop }, { scale: 0.3 }) as unknown as tf.Tensor[];
      for (let i = 0; i < 3; i++) await close(grads[i], loopGrads[i], 1e-4);
      tf.dispose([q, k, v, dO, bias, o, saved.p, oLoop, pLoop, ...grads, ...loopGrads]);
    });
  }
});
