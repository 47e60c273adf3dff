// tfjs-wasm hands every 2-D product to XNNPACK as a fully-connected operator whose "weights" are
// the product's right operand b: XNNPACK copies b into its packed layout and tfjs keeps that
// operator (and the copy) until b is disposed. For frozen weights that doubles the model on the
// heap, and every activation used as b (hᵀ, dyᵀ, ...) keeps its own packed copy until the step's
// tensors go: a 0.5B model's step ran past WASM's 4 GB and aborted (Node) or stalled (Chromium).
// Here b keeps its cached operator only from its second use on (a weight, not a one-off
// activation) and while the cached copies stay within a budget; every other product runs on an
// alias of b's memory under a fresh id, whose operator is deleted right after the product.
// Repacking costs one copy of b per product, a few percent of a product at training sizes.
import * as tf from '@tensorflow/tfjs-core';

interface TensorData {
  id: number;
  memoryOffset: number;
  shape: number[];
  dtype: tf.DataType;
  refCount: number;
}

interface WasmBackendInternals {
  dataIdMap: { get(id: tf.DataId): TensorData | undefined; has(id: tf.DataId): boolean; delete(id: tf.DataId): void };
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number): tf.TensorInfo;
  wasm: { tfjs: { disposeData(id: number): void } };
}

/** Bytes of packed right operands XNNPACK may keep between products (the rest is packed per product). */
export const PACKED_CACHE_BYTES = 384 * 2 ** 20;

const seen = new WeakSet<object>();
const cached = new Map<tf.DataId, number>();
let budget = PACKED_CACHE_BYTES;

/** For tests: the budget (bytes), and what is cached now. */
export function setPackedCacheBudget(bytes: number): void {
  budget = bytes;
}

export function packedCacheBytes(backend: unknown): number {
  const map = (backend as WasmBackendInternals).dataIdMap;
  let total = 0;
  for (const [id, bytes] of cached) {
    if (map.has(id)) total += bytes;
    else cached.delete(id);
  }
  return total;
}

function keepsOperator(backend: WasmBackendInternals, b: tf.TensorInfo): boolean {
  const bytes = b.shape.reduce((a, d) => a * d, 1) * 4;
  if (cached.has(b.dataId)) return true;
  if (!seen.has(b.dataId as object)) {
    seen.add(b.dataId as object);
    return false;
  }
  if (packedCacheBytes(backend) + bytes > budget) return false;
  cached.set(b.dataId, bytes);
  return true;
}

/** Wraps tfjs-wasm's BatchMatMul kernel with the policy above. */
export function boundPackedWeights(original: tf.KernelConfig['kernelFunc']): tf.KernelConfig['kernelFunc'] {
  return (args) => {
    const backend = args.backend as unknown as WasmBackendInternals;
    const b = args.inputs.b as tf.TensorInfo;
    const a = args.inputs.a as tf.TensorInfo;
    // Only plain 2-D products reach XNNPACK (batched ones run a loop with nothing cached).
    const plain = a.shape.length === 2 && b.shape.length === 2;
    if (!plain || keepsOperator(backend, b)) return original(args);
    const data = backend.dataIdMap.get(b.dataId);
    if (!data) return original(args);
    const alias = backend.makeOutput(b.shape, b.dtype, data.memoryOffset);
    try {
      return original({ ...args, inputs: { ...args.inputs, b: alias } });
    } finally {
      // Unregister the alias (its operator goes with it) without freeing b's memory.
      const info = backend.dataIdMap.get(alias.dataId);
      if (info) backend.wasm.tfjs.disposeData(info.id);
      backend.dataIdMap.delete(alias.dataId);
    }
  };
}
