// The SIMD attention kernel (src/engine/kernels/attention.wat) runs in Node's WASM backend on
// tfjs's own heap and gives what the CPU backend's plain softmax attention gives, for grouped
// heads, per-head biases, decoding rows and rows whose keys are all masked; a head size that is
// not a multiple of 4 takes the JavaScript loop. Its committed binary is what its source compiles to.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { simdAttention } from '../src/engine/kernels/wasm-attention.ts';
import { ATTENTION_WASM } from '../src/engine/kernels/wasm-attention-binary.ts';
import { causalBias } from '../src/engine/models/layers.ts';
import { attentionForward } from '../src/engine/ops/attention.ts';
import { initNodeBackend } from '../src/node/backend.ts';
import { compileKernel } from '../scripts/build-wasm-kernels.ts';
import { maxAbsDiff } from './support/fixtures.ts';

beforeAll(async () => {
  expect(await initNodeBackend('wasm')).toBe('wasm');
});

const heap = () => (tf.backend() as unknown as { wasm: { asm: { memory: WebAssembly.Memory } } }).wasm.asm.memory;

/** o and p of attentionForward on the WASM backend (its loop kernels: the products here are small) and on the CPU backend. */
async function bothBackends(make: () => [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor]): Promise<Float32Array[]> {
  const run = async () => {
    const [q, k, v, bias] = make();
    const { o, saved } = attentionForward(q, k, v, bias, 0.3);
    const out = [(await o.data()) as Float32Array, (await saved.p.data()) as Float32Array];
    tf.dispose([q, k, v, bias, o, saved.p]);
    return out;
  };
  const wasm = await run();
  await tf.setBackend('cpu');
  try {
    return [...wasm, ...(await run())];
  } finally {
    await tf.setBackend('wasm');
  }
}

describe('attention in WebAssembly SIMD', () => {
  it('binds to the WASM backend heap in Node', () => {
    expect(simdAttention(heap())).toBeTypeOf('function');
  });

  it('its binaries are what attention.wat compiles to', async () => {
    expect(await compileKernel('attention.wat')).toBe(ATTENTION_WASM.plain);
    expect(await compileKernel('attention.wat', true)).toBe(ATTENTION_WASM.shared);
  });

  it("binds to a shared heap as tfjs's threaded build has, and computes there", () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
    const attention = simdAttention(memory);
    expect(attention).toBeTypeOf('function');
    // One head, one query, two keys of size 4: q·k = 1 and 0, so p = softmax([1, 0] · 0.5).
    const f = new Float32Array(memory.buffer);
    f.set([1, 0, 0, 0], 0); // q at byte 0
    f.set([1, 0, 0, 0, 0, 1, 0, 0], 4); // k at byte 16
    f.set([2, 0, 0, 0, 0, 4, 0, 0], 12); // v at byte 48
    f.set([0, 0], 20); // bias at byte 80
    attention!(0, 16, 48, 80, 96, 112, 1, 1, 1, 1, 2, 4, 1, 0.5, 128); // idx (scratch) at byte 128
    const p0 = 1 / (1 + Math.exp(-0.5));
    expect(f[28]).toBeCloseTo(p0, 6);
    expect(f[29]).toBeCloseTo(1 - p0, 6);
    expect([...f.subarray(24, 28)].map((x) => +x.toFixed(5))).toEqual([+(2 * p0).toFixed(5), +(4 * (1 - p0)).toFixed(5), 0, 0]);
  });

  it('a packed serving batch (sequences sharing one row, most keys masked for each query): equals the CPU backend', async () => {
    // 5 sequences: a cache of 40 columns tagged round-robin, then 9 new positions of their own.
    const [nh, T, S, hd] = [4, 9, 49, 32];
    const query = Array.from({ length: T }, (_, i) => i % 5);
    const key = [...Array.from({ length: S - T }, (_, j) => (j < 20 ? Math.floor(j / 4) : j % 5)), ...query];
    const make = (): [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor] => [
      tf.randomNormal([1, nh, T, hd], 0, 1, 'float32', 4) as tf.Tensor4D,
      tf.randomNormal([1, nh, S, hd], 0, 1, 'float32', 5) as tf.Tensor4D,
      tf.randomNormal([1, nh, S, hd], 0, 1, 'float32', 6) as tf.Tensor4D,
      causalBias([new Array<number>(S).fill(1)], T, null, undefined, { query, key }),
    ];
    const [o, p, oCpu, pCpu] = await bothBackends(make);
    expect(maxAbsDiff(o, oCpu)).toBeLessThan(1e-5);
    expect(maxAbsDiff(p, pCpu)).toBeLessThan(1e-5);
    // Every query's probabilities are zero outside its own sequence's columns and sum to 1 inside.
    for (let h = 0; h < nh; h++)
      for (let t = 0; t < T; t++) {
        const row = p.subarray((h * T + t) * S, (h * T + t + 1) * S);
        expect(row.every((x, j) => key[j] === query[t] || x === 0)).toBe(true);
        expect(row.reduce((a, x) => a + x, 0)).toBeCloseTo(1, 5);
      }
  });

  const cases: [string, number, number, number, number, number, number, boolean][] = [
    // name, B, nh, nkv, T, S, hd, per-head bias
    ['prefill, 6 query heads on 2 kv heads', 2, 6, 2, 5, 5, 16, false],
    ['decoding rows (T = 1) after a cache of 9', 3, 4, 4, 1, 10, 32, false],
    ['a bias per head (as ALiBi adds)', 2, 3, 3, 4, 4, 8, true],
    ['head size 4', 1, 2, 1, 3, 3, 4, false],
    ['head size 6 (the JavaScript loop)', 2, 2, 2, 3, 3, 6, false],
  ];
  for (const [name, B, nh, nkv, T, S, hd, perHead] of cases) {
    it(`${name}: equals the CPU backend's softmax attention`, async () => {
      // Row 0 masks its first two keys: with T > 1 its first query sees no key at all.
      const mask = Array.from({ length: B }, (_, b) => Array.from({ length: S }, (_, j) => (b === 0 && j < 2 ? 0 : 1)));
      const make = (): [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor] => {
        const causal = causalBias(mask, T);
        const bias = perHead ? tf.add(causal, tf.randomNormal([B, nh, T, S], 0, 1, 'float32', 9)) : causal;
        return [
          tf.randomNormal([B, nh, T, hd], 0, 1, 'float32', 1) as tf.Tensor4D,
          tf.randomNormal([B, nkv, S, hd], 0, 1, 'float32', 2) as tf.Tensor4D,
          tf.randomNormal([B, nkv, S, hd], 0, 1, 'float32', 3) as tf.Tensor4D,
          bias,
        ];
      };
      const [o, p, oCpu, pCpu] = await bothBackends(make);
      expect(o.length).toBe(B * nh * T * hd);
      expect(maxAbsDiff(o, oCpu)).toBeLessThan(1e-5);
      expect(maxAbsDiff(p, pCpu)).toBeLessThan(1e-5);
    });
  }
});
