import * as tf from '@tensorflow/tfjs-core';

/**
 * The WASM backend's Identity kernel copies the tensor's bytes. The gradient tape clones every
 * tensor it saves for the backward pass through Identity, so each training step copied every
 * weight matrix (hundreds of MB for a 135M model) and, the copy being a new tensor, defeated
 * XNNPACK's cache of packed weights. Sharing the buffer by reference count, as the CPU and
 * WebGPU backends already do, is safe: tensors are immutable.
 */
export function shareIdentityOnWasm(): void {
  const existing = tf.getKernel('Identity', 'wasm');
  if (existing && (existing as { shared?: boolean }).shared) return;
  if (existing) tf.unregisterKernel('Identity', 'wasm');
  const config: tf.KernelConfig & { shared: boolean } = {
    kernelName: 'Identity',
    backendName: 'wasm',
    shared: true,
    kernelFunc: ({ inputs, backend }) => {
      const x = inputs.x as tf.TensorInfo;
      (backend as unknown as { incRef(id: tf.DataId): void }).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    },
  };
  tf.registerKernel(config);
}
