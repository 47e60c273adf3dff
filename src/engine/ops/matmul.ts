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

/**
 * Below this many FLOPs per product, WASM's naive batched loop beats splitting the batch into
 * XNNPACK calls (each slice, transpose and operator setup costs some tens of microseconds).
 */
const SPLIT_MIN_FLOPS = 2e4;

/** Batched a [G, M, K] · b [G, K, N] (or · bᵀ for b [G, N, K]) → [G, M, N]. */
export function bmm(a: tf.Tensor3D, b: tf.Tensor3D, transposeB = false): tf.Tensor3D {
  const [G, M, K] = a.shape;
  const N = transposeB ? b.shape[1] : b.shape[2];
  if (!plainOnly() || G === 1 || 2 * M * K * N < SPLIT_MIN_FLOPS) return tf.matMul(a, b, false, transposeB);
  const products: tf.Tensor[] = [];
  for (let g = 0; g < G; g++) {
    const ai = tf.reshape(tf.slice(a, [g, 0, 0], [1, M, K]), [M, K]) as tf.Tensor2D;
    const bi = tf.reshape(tf.slice(b, [g, 0, 0], [1, -1, -1]), [b.shape[1], b.shape[2]]) as tf.Tensor2D;
    products.push(transposeB ? mmBT(ai, bi) : tf.matMul(ai, bi));
  }
  return tf.stack(products) as tf.Tensor3D;
}

/** Batched aᵀ · b for a [G, K, M], b [G, K, N] → [G, M, N]. */
export function bmmAT(a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  if (!plainOnly()) return tf.matMul(a, b, true, false);
  return bmm(tf.transpose(a, [0, 2, 1]), b);
}
