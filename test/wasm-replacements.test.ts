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
    const x = () => tf.tensor(Array.from({ length: 5 * 3 * 4 * 2 }, (_, i) => i * 0.5 - 7), [5, 3, 4, 2]);
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
