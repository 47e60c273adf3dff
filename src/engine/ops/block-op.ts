import * as tf from '@tensorflow/tfjs-core';
import { customOp } from './custom-op.ts';
import type { BlockAdapter } from '../models/block-adapter.ts';

/**
 * Runs one transformer block as a single differentiable op: `forward` returns the output and
 * the tensors its backward pass needs, `backward` maps the output gradient to the input
 * gradient. The tape then holds only those tensors, not every intermediate. The adapter's
 * trainable tensors (a prefix's keys/values, LoRA factors) are inputs of the op too: their
 * gradients are what the backward pass reported to the adapter.
 */
export function blockOp(x: tf.Tensor, adapter: BlockAdapter, forward: (x: tf.Tensor) => { y: tf.Tensor; saved: tf.Tensor[] }, backward: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor): tf.Tensor {
  const extras = adapter.inputs();
  return customOp<tf.Tensor[]>((...args) => {
    const save = args[args.length - 1] as unknown as tf.GradSaveFunc;
    const { y, saved } = forward(args[0] as tf.Tensor);
    const own = saved.length;
    save([...saved, ...adapter.takeSaved()]);
    return {
      value: y,
      gradFunc: (dy, s) => {
        adapter.restoreSaved(s.slice(own));
        const dx = backward(dy, s.slice(0, own));
        return extras.length ? [dx, ...adapter.gradients()] : dx;
      },
    };
  })(x, ...extras);
}
