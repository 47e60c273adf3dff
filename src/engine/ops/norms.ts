// The final norms (and BLOOM's embedding norm) as standalone differentiable ops; inside blocks
// the fused forward/gradient pairs of ops/fused.ts are called directly.
import * as tf from '@tensorflow/tfjs-core';
import { customOp } from './custom-op.ts';
import * as fused from './fused.ts';

export function rmsNorm(x: tf.Tensor, weight: tf.Tensor1D, eps: number): tf.Tensor {
  return customOp<[tf.Tensor]>((input, save) => {
    save([input]);
    return { value: fused.rmsNorm(input, weight, eps), gradFunc: (dy, [xs]) => fused.rmsNormGrad(dy, xs, weight, eps) };
  })(x);
}

export function layerNorm(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): tf.Tensor {
  return customOp<[tf.Tensor]>((input, save) => {
    save([input]);
    return { value: fused.layerNorm(input, gamma, beta, eps), gradFunc: (dy, [xs]) => fused.layerNormGrad(dy, xs, gamma, eps) };
  })(x);
}
