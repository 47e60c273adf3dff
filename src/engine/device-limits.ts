import * as tf from '@tensorflow/tfjs-core';

let override: number | null = null;

/** Caps the bytes of any one weight buffer (tests use a tiny cap to exercise chunking). */
export function setMaxBufferBytes(bytes: number | null): void {
  override = bytes;
}

/**
 * On WASM, XNNPACK copies the right operand of every product into its packed layout
 * (kernels/wasm-packed-cache.ts), and the tied LM head's backward product has the embedding
 * table in that place: in chunks of this size the copy stays small instead of a second table
 * (544 MB for Qwen2.5-0.5B, 1 GB for bloomz-560m in float32).
 */
export const WASM_TABLE_CHUNK_BYTES = 64 * 2 ** 20;

/**
 * Largest buffer one weight chunk may use: the WebGPU device's maxStorageBufferBindingSize
 * (tfjs requests the adapter's real limit), WASM_TABLE_CHUNK_BYTES on WASM, 1 GiB elsewhere.
 */
export function maxBufferBytes(): number {
  if (override !== null) return override;
  const device = (tf.backend() as unknown as { device?: { limits?: { maxStorageBufferBindingSize?: number } } }).device;
  if (device?.limits?.maxStorageBufferBindingSize) return device.limits.maxStorageBufferBindingSize;
  return tf.getBackend() === 'wasm' ? WASM_TABLE_CHUNK_BYTES : 2 ** 30;
}
