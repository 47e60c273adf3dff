import * as tf from '@tensorflow/tfjs-core';
import { customOp } from './custom-op.ts';

/**
 * Runs one transformer block as a single differentiable op: `forward` returns the output and
 * the tensors its backward pass needs, `backward` maps the output gradient to the input
 * gradient. The tape then holds only those tensors, not every intermediate.
 */
export function blockOp(x: tf.Tensor, forward: (x: tf.Tensor) => { y: tf.Tensor; saved: tf.Tensor[] }, backward: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor): tf.Tensor {
  return customOp<[tf.Tensor]>((input, save) => {
    const { y, saved } = forward(input);
    save(saved);
    return { value: y, gradFunc: (dy, s) => backward(dy, s) };
  })(x);
}
