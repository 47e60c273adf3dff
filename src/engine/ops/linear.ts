// Frozen linear layers: the backward pass computes only the input gradient dy · Wᵀ (no weight
// gradient) and needs nothing from the forward pass.
import * as tf from '@tensorflow/tfjs-core';
import { mm, mmBT } from './matmul.ts';

/** x [..., in] · w [in, out] (+ b). */
export function linear(x: tf.Tensor, w: tf.Tensor2D, b?: tf.Tensor1D | null): tf.Tensor {
  const [inDim, outDim] = w.shape;
  let y: tf.Tensor = mm(tf.reshape(x, [-1, inDim]) as tf.Tensor2D, w);
  if (b) y = tf.add(y, b);
  return tf.reshape(y, [...x.shape.slice(0, -1), outDim]);
}

/** d loss / d x of `linear`, from dy [..., out]. */
export function linearBackward(dy: tf.Tensor, w: tf.Tensor2D): tf.Tensor {
  const [inDim, outDim] = w.shape;
  return tf.reshape(mmBT(tf.reshape(dy, [-1, outDim]) as tf.Tensor2D, w), [...dy.shape.slice(0, -1), inDim]);
}
