// Rotary position tables in transformers' convention (the rotation itself is ops/fused.ts rope).
import * as tf from '@tensorflow/tfjs-core';

/**
 * cos and sin tables for positions past .. past + T - 1, in float32 like transformers: [T, headDim].
 * With per-row `positions` [B][T] (ForwardOptions.positions, transformers' position_ids) the
 * tables are [B * T, headDim], row b * T + t for positions[b][t]; ops/fused.ts rope takes both.
 */
export function ropeTables(inverseFrequencies: Float32Array, past: number, T: number, positions?: number[][] | null): [tf.Tensor2D, tf.Tensor2D] {
  const half = inverseFrequencies.length;
  const flat = positions ? positions.flat() : Array.from({ length: T }, (_, t) => past + t);
  const cos = new Float32Array(flat.length * half * 2);
  const sin = new Float32Array(flat.length * half * 2);
  flat.forEach((position, t) => {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(inverseFrequencies[i] * position);
      cos[t * 2 * half + i] = cos[t * 2 * half + half + i] = Math.cos(angle);
      sin[t * 2 * half + i] = sin[t * 2 * half + half + i] = Math.sin(angle);
    }
  });
  return [tf.tensor2d(cos, [flat.length, 2 * half]), tf.tensor2d(sin, [flat.length, 2 * half])];
}
