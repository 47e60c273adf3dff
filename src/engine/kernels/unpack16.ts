// Widening of packed 16-bit weights (ops/weight.ts) to float32 on the WASM and CPU backends:
// one pass over the words, BF16 by a 16-bit shift, F16 through a 65,536-entry table (exact,
// subnormals included). The products that follow run on tfjs's own matmul (XNNPACK on WASM).
import * as tf from '@tensorflow/tfjs-core';

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array;
}

interface CpuBackendLike {
  data: { get(dataId: tf.DataId): { values: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
}

let f16Table: Float32Array | null = null;

/** Float32 value of every F16 bit pattern. */
function f16Values(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) t[h] = sign * frac * 2 ** -24;
    else if (exp === 31) t[h] = frac ? NaN : sign * Infinity;
    else t[h] = sign * 2 ** (exp - 15) * (1 + frac / 1024);
  }
  return (f16Table = t);
}

/** Widens `src` (16-bit values) into `dst` (float32 of the same length). */
export function widenInto(src: Uint16Array, dst: Float32Array, bf16: boolean): void {
  const n = src.length;
  if (bf16) {
    const bits = new Uint32Array(dst.buffer, dst.byteOffset, n);
    for (let i = 0; i < n; i++) bits[i] = src[i] << 16;
  } else {
    const table = f16Values();
    for (let i = 0; i < n; i++) dst[i] = table[src[i]];
  }
}

/** Widens `src` [rows, cols] (16-bit values) into `dst` [cols, rows], in blocks so that both sides stay in cache. */
export function widenTransposedInto(src: Uint16Array, dst: Float32Array, rows: number, cols: number, bf16: boolean): void {
  const bits = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  const table = bf16 ? null : f16Values();
  const B = 32;
  for (let r0 = 0; r0 < rows; r0 += B) {
    const r1 = Math.min(rows, r0 + B);
    for (let c0 = 0; c0 < cols; c0 += B) {
      const c1 = Math.min(cols, c0 + B);
      for (let c = c0; c < c1; c++) {
        const out = c * rows;
        if (table) for (let r = r0; r < r1; r++) dst[out + r] = table[src[r * cols + c]];
        else for (let r = r0; r < r1; r++) bits[out + r] = src[r * cols + c] << 16;
      }
    }
  }
}

const outShape = (x: tf.TensorInfo) => [...x.shape.slice(0, -1), x.shape[x.shape.length - 1] * 2];

/** PtUnpack16: packed int32 words [..., n / 2] → float32 [..., n]; attrs.bf16 = 1 for BF16, 0 for F16. */
export const WASM_UNPACK_KERNELS = {
  PtUnpack16: ({ x }: Record<string, tf.TensorInfo>, { bf16 }: Record<string, number>, backend: WasmBackendLike): tf.TensorInfo => {
    const out = backend.makeOutput(outShape(x), 'float32');
    // Views after the allocation: growing the heap detaches earlier ones.
    const words = backend.typedArrayFromHeap(x);
    const dst = backend.typedArrayFromHeap(out) as Float32Array;
    widenInto(new Uint16Array(words.buffer, words.byteOffset, words.length * 2), dst, bf16 === 1);
    return out;
  },
  /**
   * PtUnpack16T: packed words [rows, cols / 2] → float32 [cols, rows], the widened matrix's
   * transpose in the same one pass (ops/weight.ts: products whose left operand has few rows).
   */
  PtUnpack16T: ({ x }: Record<string, tf.TensorInfo>, { bf16 }: Record<string, number>, backend: WasmBackendLike): tf.TensorInfo => {
    const [rows, words] = x.shape;
    const out = backend.makeOutput([words * 2, rows], 'float32');
    const src = backend.typedArrayFromHeap(x);
    const dst = backend.typedArrayFromHeap(out) as Float32Array;
    widenTransposedInto(new Uint16Array(src.buffer, src.byteOffset, src.length * 2), dst, rows, words * 2, bf16 === 1);
    return out;
  },
};

export const CPU_UNPACK_KERNELS = {
  PtUnpack16: ({ x }: Record<string, tf.TensorInfo>, { bf16 }: Record<string, number>, backend: CpuBackendLike): tf.TensorInfo => {
    const words = backend.data.get(x.dataId).values as Int32Array;
    const dst = new Float32Array(words.length * 2);
    widenInto(new Uint16Array(words.buffer, words.byteOffset, words.length * 2), dst, bf16 === 1);
    return backend.makeTensorInfo(outShape(x), 'float32', dst);
  },
};
