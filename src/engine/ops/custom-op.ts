import * as tf from '@tensorflow/tfjs-core';
// tfjs registers op gradients separately from the ops; the glue between custom ops (reshapes,
// residual adds, the prompt's concat) is differentiated by the tape and needs them.
import '@tensorflow/tfjs-core/dist/register_all_gradients';

export interface OpResult {
  value: tf.Tensor;
  /** Gradients for each tensor argument, in order, from the output's gradient and the saved tensors. */
  gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[];
}

/**
 * tf.customGrad with typed tensor arguments (tfjs types them as a union with the save
 * function), and a backward pass that frees its intermediates: tfjs runs a custom gradient
 * outside any tidy scope, so without one every layer's backward temporaries would live until
 * the whole gradient is done.
 */
export function customOp<A extends tf.Tensor[]>(f: (...args: [...A, tf.GradSaveFunc]) => OpResult): (...args: A) => tf.Tensor {
  const tidied = (...args: [...A, tf.GradSaveFunc]): OpResult => {
    const { value, gradFunc } = f(...args);
    return { value, gradFunc: (dy, saved) => tf.tidy(() => gradFunc(dy, saved)) };
  };
  return tf.customGrad(tidied as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (...args: A) => tf.Tensor;
}
