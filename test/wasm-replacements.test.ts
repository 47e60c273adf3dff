// tfjs-wasm kernels replaced by src/engine/kernels/wasm-replacements.ts give what the CPU
// backend's reference kernels give.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initNodeBackend } from '../src/node/backend.ts';

beforeAll(async () => {
  expect(await initNodeBackend('wasm')).toBe('wasm');
});

/** `f` on the WASM backend and on the CPU backend, as plain arrays. */
async function onBoth(f: () => tf.Tensor): Promise<[unknown, unknown]> {
  const wasm = await f().array();
  await tf.setBackend('cpu');
  try {
    return [wasm, await f().array()];
  } finally {
    await tf.setBackend('wasm');
  }
}

describe('WASM kernel replacements', () => {
  it('GatherV2 takes whole slices on any axis, repeated and reordered indices included', async () => {
    expect((tf.getKernel('GatherV2', 'wasm') as { patched?: boolean }).patched).toBe(true);
    const x = () =>
      tf.tensor(
        Array.from({ length: 5 * 3 * 4 * 2 }, (_, i) => i * 0.5 - 7),
        [5, 3, 4, 2],
      );
    for (const [axis, idx] of [
      [0, [4, 0, 2]],
      [1, [2, 2, 0]],
      [2, [3]],
      [3, [1, 0]],
      [-1, [0]],
    ] as [number, number[]][]) {
      const [wasm, cpu] = await onBoth(() => tf.gather(x(), tf.tensor1d(idx, 'int32'), axis));
      expect(wasm, `axis ${axis}`).toEqual(cpu);
    }
    const [wasm, cpu] = await onBoth(() => tf.gather(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], 'int32'), tf.tensor2d([2, 0, 1, 1], [2, 2], 'int32'), 0));
    expect(wasm).toEqual(cpu);
    expect(() => tf.gather(x(), tf.tensor1d([5], 'int32'), 0)).toThrow('not in [0, 4]');
  });
});

describe('WASM attention loop', () => {
  it('skips masked keys and gives what the plain softmax gives, a row with every key masked included', async () => {
    const { attentionForward } = await import('../src/engine/ops/attention.ts');
    const { causalBias } = await import('../src/engine/models/layers.ts');
    const [B, nh, T, S, hd] = [2, 4, 3, 5, 8];
    const q = () => tf.randomNormal([B, nh, T, hd], 0, 1, 'float32', 1) as tf.Tensor4D;
    const k = () => tf.randomNormal([B, nh, S, hd], 0, 1, 'float32', 2) as tf.Tensor4D;
    const v = () => tf.randomNormal([B, nh, S, hd], 0, 1, 'float32', 3) as tf.Tensor4D;
    // Row 1 masks its first two keys, so its first query sees none.
    const mask = [
      [1, 1, 1, 1, 1],
      [0, 0, 0, 1, 1],
    ];
    const run = () => {
      const { o, saved } = attentionForward(q(), k(), v(), causalBias(mask, T), 0.35);
      return tf.concat([tf.reshape(o, [-1]), tf.reshape(saved.p, [-1])]);
    };
    expect(tf.getBackend()).toBe('wasm');
    const [wasm, cpu] = (await onBoth(run)) as [number[], number[]];
    expect(wasm.length).toBe(cpu.length);
    for (let i = 0; i < wasm.length; i++) expect(Math.abs(wasm[i] - cpu[i]), `element ${i}`).toBeLessThan(1e-5);
  });
});
