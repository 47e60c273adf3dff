// Matrix products laid out for the backend at hand. tfjs-wasm sends every product that is
// transposed or batched to a naive loop (1-2 GFLOP/s) and only plain 2-D a·b to XNNPACK
// (~20 GFLOP/s), so on WASM the other forms are rewritten into plain products plus cheap
// transposes. Other backends take the forms directly.
import * as tf from '@tensorflow/tfjs-core';

function plainOnly(): boolean {
  return tf.getBackend() === 'wasm';
}

/** a [M, K] · b [K, N]. */
export function mm(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return tf.matMul(a, b);
}

/** a [M, K] · bᵀ for b [N, K] → [M, N]. */
export function mmBT(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  if (!plainOnly()) return tf.matMul(a, b, false, true);
  return tf.transpose(tf.matMul(b, tf.transpose(a)));
}

/** aᵀ · b for a [K, M], b [K, N] → [M, N]. */
export function mmAT(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  if (!plainOnly()) return tf.matMul(a, b, true, false);
  return tf.matMul(tf.transpose(a), b);
}

/** Batched a [G, M, K] · b [G, K, N] (or · bᵀ for b [G, N, K]) → [G, M, N]. */
export function bmm(a: tf.Tensor3D, b: tf.Tensor3D, transposeB = false): tf.Tensor3D {
  if (!plainOnly()) return tf.matMul(a, b, false, transposeB);
  const as = tf.unstack(a) as tf.Tensor2D[];
  const bs = tf.unstack(b) as tf.Tensor2D[];
  return tf.stack(as.map((ai, i) => (transposeB ? mmBT(ai, bs[i]) : tf.matMul(ai, bs[i])))) as tf.Tensor3D;
}

/** Batched aᵀ · b for a [G, K, M], b [G, K, N] → [G, M, N]. */
export function bmmAT(a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  if (!plainOnly()) return tf.matMul(a, b, true, false);
  return bmm(tf.transpose(a, [0, 2, 1]), b);
}
