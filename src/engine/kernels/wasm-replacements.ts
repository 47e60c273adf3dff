// tfjs-wasm kernels replaced (BatchMatMul: see wasm-packed-cache.ts) where their implementation costs far more than the work:
// - Identity copies the tensor's bytes. The gradient tape clones every tensor it saves through
//   Identity, so each training step copied every weight matrix (hundreds of MB for a 135M
//   model) and, the copy being a new tensor, defeated XNNPACK's cache of packed weights.
//   Sharing the buffer by reference count, as the CPU and WebGPU backends do, is safe:
//   tensors are immutable.
// - Slice reads its whole input out of the WASM heap (a copy) before taking the slice, so
//   splitting a tensor into n pieces copied it n times (SplitV and Unpack call it directly).
//   Here all three copy only the slice, row by row, from a view of the heap.
// - GatherV2 computes every element's source index one element at a time (~10 ns an element):
//   dropping finished rows from a serving batch's KV cache (engine/serve/mixed-batch.ts), a
//   gather of every layer's keys and values on axis 0, took a fifth of the server's time. Here
//   each gathered slice is one contiguous copy.
import * as tf from '@tensorflow/tfjs-core';
import { kernelsUsable } from './registry.ts';
import { boundPackedWeights } from './wasm-packed-cache.ts';

interface WasmBackendLike {
  incRef(id: tf.DataId): void;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

type KernelFunc = tf.KernelConfig['kernelFunc'];

function replace(kernelName: string, make: (original: KernelFunc) => KernelFunc): void {
  const existing = tf.getKernel(kernelName, 'wasm') as (tf.KernelConfig & { patched?: boolean }) | undefined;
  if (!existing || existing.patched) return;
  tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel({ ...existing, kernelFunc: make(existing.kernelFunc), patched: true } as tf.KernelConfig);
}

/** Replaces the kernels above in tfjs-wasm's registry (idempotent); not at all with another tfjs version. */
export function replaceWasmKernels(): void {
  if (!kernelsUsable()) return;
  replace('BatchMatMul', boundPackedWeights);
  replace('Identity', () => ({ inputs, backend }) => {
    const x = inputs.x as tf.TensorInfo;
    (backend as unknown as WasmBackendLike).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  });
  replace('Slice', (original) => (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype === 'string') return original(args);
    const { begin, size } = args.attrs as unknown as { begin: number[]; size: number[] };
    return slice(
      args.backend as unknown as WasmBackendLike,
      x,
      begin,
      size.map((s, i) => (s === -1 ? x.shape[i] - begin[i] : s)),
    );
  });
  replace('SplitV', (original) => (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype === 'string') return original(args);
    const { numOrSizeSplits, axis } = args.attrs as unknown as { numOrSizeSplits: number | number[]; axis: number };
    const ax = axis < 0 ? axis + x.shape.length : axis;
    const sizes = typeof numOrSizeSplits === 'number' ? new Array<number>(numOrSizeSplits).fill(x.shape[ax] / numOrSizeSplits) : [...numOrSizeSplits];
    const known = sizes.filter((s) => s !== -1).reduce((a, b) => a + b, 0);
    const full = sizes.map((s) => (s === -1 ? x.shape[ax] - known : s));
    const begin = new Array<number>(x.shape.length).fill(0);
    return full.map((s) => {
      const size = [...x.shape];
      size[ax] = s;
      const piece = slice(args.backend as unknown as WasmBackendLike, x, [...begin], size);
      begin[ax] += s;
      return piece;
    });
  });
  replace('GatherV2', (original) => (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const indices = args.inputs.indices as tf.TensorInfo;
    const { axis, batchDims } = args.attrs as unknown as { axis: number; batchDims: number };
    if (x.dtype === 'string' || batchDims) return original(args);
    return gather(args.backend as unknown as WasmBackendLike, x, indices, axis < 0 ? axis + x.shape.length : axis) ?? original(args);
  });
  replace('Unpack', (original) => (args) => {
    const x = args.inputs.value as tf.TensorInfo;
    if (x.dtype === 'string') return original(args);
    const { axis } = args.attrs as unknown as { axis: number };
    const ax = axis < 0 ? axis + x.shape.length : axis;
    const outShape = x.shape.filter((_, i) => i !== ax);
    return Array.from({ length: x.shape[ax] }, (_, k) => {
      const begin = x.shape.map((_, i) => (i === ax ? k : 0));
      const size = x.shape.map((d, i) => (i === ax ? 1 : d));
      const piece = slice(args.backend as unknown as WasmBackendLike, x, begin, size);
      return { ...piece, shape: outShape };
    });
  });
}

/** Copies x[begin : begin + size] out of the heap, a contiguous run of the innermost axes at a time. */
function slice(backend: WasmBackendLike, x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo {
  const result = backend.makeOutput(size, x.dtype);
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(result);
  const rank = x.shape.length;
  const strides = new Array<number>(rank);
  strides[rank - 1] = 1;
  for (let i = rank - 2; i >= 0; i--) strides[i] = strides[i + 1] * x.shape[i + 1];
  // The innermost axes taken whole (after the last partial one) form one contiguous run.
  let inner = rank;
  while (inner > 0 && begin[inner - 1] === 0 && size[inner - 1] === x.shape[inner - 1]) inner--;
  const runAxis = Math.max(inner - 1, 0);
  const run = size.slice(runAxis).reduce((a, b) => a * b, 1);
  const outer = size.slice(0, runAxis);
  const count = outer.reduce((a, b) => a * b, 1);
  const index = new Array<number>(runAxis).fill(0);
  for (let n = 0, out = 0; n < count; n++, out += run) {
    let offset = begin[runAxis] * strides[runAxis];
    for (let i = 0; i < runAxis; i++) offset += (begin[i] + index[i]) * strides[i];
    dst.set(src.subarray(offset, offset + run), out);
    for (let i = runAxis - 1; i >= 0; i--) {
      if (++index[i] < outer[i]) break;
      index[i] = 0;
    }
  }
  return result;
}

/**
 * x gathered at `indices` along `axis` (batchDims 0), copying each slice x[..., i, ...] (the axes
 * after `axis`) whole; null where an index is out of range, so tfjs's kernel reports it.
 */
function gather(backend: WasmBackendLike, x: tf.TensorInfo, indices: tf.TensorInfo, axis: number): tf.TensorInfo | null {
  const idx = backend.typedArrayFromHeap(indices);
  const n = x.shape[axis];
  for (let i = 0; i < idx.length; i++) if (!(idx[i] >= 0 && idx[i] < n && Number.isInteger(idx[i]))) return null;
  const outer = x.shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = x.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const picks = Array.from(idx);
  const result = backend.makeOutput([...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)], x.dtype);
  // Views after the allocation: it can grow the heap and detach earlier ones.
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(result);
  for (let o = 0, out = 0; o < outer; o++) {
    const base = o * n * inner;
    for (const i of picks) {
      dst.set(src.subarray(base + i * inner, base + (i + 1) * inner), out);
      out += inner;
    }
  }
  return result;
}
