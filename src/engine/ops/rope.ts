// Rotary position embeddings in transformers' rotate_half convention, forward and backward.
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

/** x ⊙ cos + rotate_half(x) ⊙ sin, rotate_half(x) = [−x₂, x₁]; x [B, heads, T, hd]. */
export function ropeForward(x: tf.Tensor4D, cos: tf.Tensor2D, sin: tf.Tensor2D): tf.Tensor4D {
  const half = x.shape[3] / 2;
  const [x1, x2] = tf.split(x, [half, half], 3);
  return tf.add(tf.mul(x, cos), tf.mul(tf.concat([tf.neg(x2), x1], 3), sin)) as tf.Tensor4D;
}

/** The transpose of the rotation: dx = dy ⊙ cos + rotate_halfᵀ(dy ⊙ sin), rotate_halfᵀ(z) = [z₂, −z₁]. */
export function ropeBackward(dy: tf.Tensor4D, cos: tf.Tensor2D, sin: tf.Tensor2D): tf.Tensor4D {
  const half = dy.shape[3] / 2;
  const [z1, z2] = tf.split(tf.mul(dy, sin), [half, half], 3);
  return tf.add(tf.mul(dy, cos), tf.concat([z2, tf.neg(z1)], 3)) as tf.Tensor4D;
}
