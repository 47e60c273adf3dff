import * as tf from '@tensorflow/tfjs-core';

let override: number | null = null;

/** Caps the bytes of any one weight buffer (tests use a tiny cap to exercise chunking). */
export function setMaxBufferBytes(bytes: number | null): void {
  override = bytes;
}

/**
 * Largest buffer one weight chunk may use: the WebGPU device's maxStorageBufferBindingSize
 * (tfjs requests the adapter's real limit), 1 GiB elsewhere.
 */
export function maxBufferBytes(): number {
  if (override !== null) return override;
  const device = (tf.backend() as unknown as { device?: { limits?: { maxStorageBufferBindingSize?: number } } }).device;
  return device?.limits?.maxStorageBufferBindingSize ?? 2 ** 30;
}
