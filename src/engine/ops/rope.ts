// Rotary position tables in transformers' convention (the rotation itself is ops/fused.ts rope).
import * as tf from '@tensorflow/tfjs-core';

/** cos and sin tables [T, headDim] for positions past .. past + T - 1, in float32 like transformers. */
export function ropeTables(inverseFrequencies: Float32Array, past: number, T: number): [tf.Tensor2D, tf.Tensor2D] {
  const half = inverseFrequencies.length;
  const cos = new Float32Array(T * half * 2);
  const sin = new Float32Array(T * half * 2);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(inverseFrequencies[i] * (past + t));
      cos[t * 2 * half + i] = cos[t * 2 * half + half + i] = Math.cos(angle);
      sin[t * 2 * half + i] = sin[t * 2 * half + half + i] = Math.sin(angle);
    }
  }
  return [tf.tensor2d(cos, [T, 2 * half]), tf.tensor2d(sin, [T, 2 * half])];
}
