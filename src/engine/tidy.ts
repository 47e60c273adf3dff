import * as tf from '@tensorflow/tfjs-core';

/** tf.tidy for functions returning typed objects of tensors (tfjs types them as TensorContainer). */
export function tidy<T>(fn: () => T): T {
  return tf.tidy(fn as () => tf.TensorContainer) as T;
}
