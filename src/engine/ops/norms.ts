// LayerNorm and RMSNorm as forward/backward pairs (input gradient only), so a block can save
// exactly what its backward pass needs; and as standalone ops for the final norm.
import * as tf from '@tensorflow/tfjs-core';
import { customOp } from './custom-op.ts';

export interface NormSaved {
  /** RMSNorm: the input; LayerNorm: the normalised input x̂. */
  x: tf.Tensor;
  /** 1 / rms or 1 / std, per row. */
  r: tf.Tensor;
}

export function rmsNormForward(x: tf.Tensor, weight: tf.Tensor1D, eps: number): { y: tf.Tensor; saved: NormSaved } {
  const r = tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps));
  return { y: tf.mul(weight, tf.mul(x, r)), saved: { x, r } };
}

/** y = w ⊙ x r, r = (mean x² + eps)^-½  ⇒  dx = r (g − x r² mean(g ⊙ x)), g = dy ⊙ w. */
export function rmsNormBackward(dy: tf.Tensor, { x, r }: NormSaved, weight: tf.Tensor1D): tf.Tensor {
  const g = tf.mul(dy, weight);
  const proj = tf.mean(tf.mul(g, x), -1, true);
  return tf.mul(r, tf.sub(g, tf.mul(x, tf.mul(tf.square(r), proj))));
}

export function layerNormForward(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): { y: tf.Tensor; saved: NormSaved } {
  const centered = tf.sub(x, tf.mean(x, -1, true));
  const r = tf.rsqrt(tf.add(tf.mean(tf.square(centered), -1, true), eps));
  const xhat = tf.mul(centered, r);
  return { y: tf.add(tf.mul(xhat, gamma), beta), saved: { x: xhat, r } };
}

/** dx = rstd (g − mean g − x̂ mean(g ⊙ x̂)), g = dy ⊙ γ. */
export function layerNormBackward(dy: tf.Tensor, { x: xhat, r }: NormSaved, gamma: tf.Tensor1D): tf.Tensor {
  const g = tf.mul(dy, gamma);
  return tf.mul(r, tf.sub(tf.sub(g, tf.mean(g, -1, true)), tf.mul(xhat, tf.mean(tf.mul(g, xhat), -1, true))));
}

export function rmsNorm(x: tf.Tensor, weight: tf.Tensor1D, eps: number): tf.Tensor {
  return customOp<[tf.Tensor]>((input, save) => {
    const { y, saved } = rmsNormForward(input, weight, eps);
    save([saved.x, saved.r]);
    return { value: y, gradFunc: (dy, [xs, r]) => rmsNormBackward(dy, { x: xs, r }, weight) };
  })(x);
}

export function layerNorm(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): tf.Tensor {
  return customOp<[tf.Tensor]>((input, save) => {
    const { y, saved } = layerNormForward(input, gamma, beta, eps);
    save([saved.x, saved.r]);
    return { value: y, gradFunc: (dy, [xhat, r]) => layerNormBackward(dy, { x: xhat, r }, gamma) };
  })(x);
}
