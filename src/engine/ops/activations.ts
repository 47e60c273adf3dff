// Activation functions by config name, as forward/derivative pairs.
import * as tf from '@tensorflow/tfjs-core';
import { geluTanh, geluTanhGrad } from './fused.ts';

export interface Activation {
  forward(x: tf.Tensor): tf.Tensor;
  /** dy ⊙ f'(x). */
  backward(dy: tf.Tensor, x: tf.Tensor): tf.Tensor;
}

const geluTanhAct: Activation = { forward: geluTanh, backward: geluTanhGrad };

/** GELU with erf (config "gelu"): d/dx ½x(1 + erf(x/√2)) = ½(1 + erf(x/√2)) + x φ(x). */
const geluErf: Activation = {
  forward: (x) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))),
  backward: (dy, x) => {
    const cdf = tf.mul(tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))), 0.5);
    const pdf = tf.mul(tf.exp(tf.mul(tf.square(x), -0.5)), 1 / Math.sqrt(2 * Math.PI));
    return tf.mul(dy, tf.add(cdf, tf.mul(x, pdf)));
  },
};

/** silu'(x) = σ(x)(1 + x(1 − σ(x))). */
const silu: Activation = {
  forward: (x) => tf.mul(x, tf.sigmoid(x)),
  backward: (dy, x) => {
    const s = tf.sigmoid(x);
    return tf.mul(dy, tf.mul(s, tf.add(1, tf.mul(x, tf.sub(1, s)))));
  },
};

const relu: Activation = { forward: (x) => tf.relu(x), backward: (dy, x) => tf.mul(dy, tf.step(x)) };

export const ACTIVATIONS: Record<string, Activation> = {
  gelu_new: geluTanhAct,
  gelu_pytorch_tanh: geluTanhAct,
  gelu_fast: geluTanhAct,
  gelu: geluErf,
  silu,
  swish: silu,
  relu,
};
