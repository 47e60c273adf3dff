// Frozen linear layers: the backward pass computes only the input gradient dy · Wᵀ (no weight
// gradient) and needs nothing from the forward pass. Weights come as ops/weight.ts Weights (in
// the checkpoint's dtype) or, from code that builds its own, as plain float32 [in, out] tensors.
import * as tf from '@tensorflow/tfjs-core';
import { Weight, weightMatMul } from './weight.ts';

const asWeight = (w: Weight | tf.Tensor2D) => (w instanceof Weight ? w : new Weight(w, 'float32', [w.shape[0], w.shape[1]]));

/** x [..., in] · w [in, out] (+ b). */
export function linear(x: tf.Tensor, w: Weight | tf.Tensor2D, b?: tf.Tensor1D | null): tf.Tensor {
  const [inDim, outDim] = w.shape;
  let y: tf.Tensor = weightMatMul(tf.reshape(x, [-1, inDim]) as tf.Tensor2D, asWeight(w));
  if (b) y = tf.add(y, b);
  return tf.reshape(y, [...x.shape.slice(0, -1), outDim]);
}

/** d loss / d x of `linear`, from dy [..., out]. */
export function linearBackward(dy: tf.Tensor, w: Weight | tf.Tensor2D): tf.Tensor {
  const [inDim, outDim] = w.shape;
  return tf.reshape(weightMatMul(tf.reshape(dy, [-1, outDim]) as tf.Tensor2D, asWeight(w), true), [...dy.shape.slice(0, -1), inDim]);
}
