// Activations as forward/backward pairs with hand-written derivatives.
import * as tf from '@tensorflow/tfjs-core';

const GELU_C = Math.sqrt(2 / Math.PI);

/** GELU, tanh approximation (GPT-2's gelu_new, BLOOM's bloom_gelu). */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), GELU_C)), 1));
}

/** d/dx ½x(1 + t) = ½(1 + t) + ½x(1 − t²)·c(1 + 3·0.044715x²), t = tanh(c(x + 0.044715x³)). */
export function geluTanhBackward(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  const t = tf.tanh(tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), GELU_C));
  const du = tf.mul(tf.add(tf.mul(tf.square(x), 3 * 0.044715), 1), GELU_C);
  return tf.mul(dy, tf.add(tf.mul(tf.add(t, 1), 0.5), tf.mul(tf.mul(tf.mul(x, 0.5), tf.sub(1, tf.square(t))), du)));
}

/** GELU with erf (config "gelu"). */
export function geluErf(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
}

/** d/dx ½x(1 + erf(x/√2)) = ½(1 + erf(x/√2)) + x φ(x). */
export function geluErfBackward(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  const cdf = tf.mul(tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))), 0.5);
  const pdf = tf.mul(tf.exp(tf.mul(tf.square(x), -0.5)), 1 / Math.sqrt(2 * Math.PI));
  return tf.mul(dy, tf.add(cdf, tf.mul(x, pdf)));
}

export function silu(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.sigmoid(x));
}

/** silu'(x) = σ(x)(1 + x(1 − σ(x))). */
export function siluBackward(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  const s = tf.sigmoid(x);
  return tf.mul(dy, tf.mul(s, tf.add(1, tf.mul(x, tf.sub(1, s)))));
}

export function relu(x: tf.Tensor): tf.Tensor {
  return tf.relu(x);
}

export function reluBackward(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  return tf.mul(dy, tf.step(x));
}

export interface Activation {
  forward(x: tf.Tensor): tf.Tensor;
  backward(dy: tf.Tensor, x: tf.Tensor): tf.Tensor;
}

export const ACTIVATIONS: Record<string, Activation> = {
  gelu_new: { forward: geluTanh, backward: geluTanhBackward },
  gelu_pytorch_tanh: { forward: geluTanh, backward: geluTanhBackward },
  gelu_fast: { forward: geluTanh, backward: geluTanhBackward },
  gelu: { forward: geluErf, backward: geluErfBackward },
  silu: { forward: silu, backward: siluBackward },
  swish: { forward: silu, backward: siluBackward },
  relu: { forward: relu, backward: reluBackward },
};
