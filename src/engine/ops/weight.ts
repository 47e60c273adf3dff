// Frozen weight matrices in the dtype the checkpoint stores. F32 matrices are plain float32
// tensors. F16 and BF16 matrices stay packed, two values to a 32-bit word: an int32 tensor
// [rows, cols / 2] whose word j of a row holds element 2j in its low half and 2j + 1 in its high
// half, which is what the file's little-endian bytes already are. They are widened to float32
// only where a product reads them: inside the WGSL kernels on WebGPU, and one matrix at a time,
// just before the product and freed right after it, on WASM and CPU. Widening is exact, so every
// result equals transformers running the same checkpoint with dtype=torch.float32.
import * as tf from '@tensorflow/tfjs-core';
import { customOp } from './custom-op.ts';
import { mm, mmBT } from './matmul.ts';
import { hasKernel, kernelsUsable } from '../kernels/registry.ts';

export type WeightDType = 'float32' | 'float16' | 'bfloat16';

export class Weight {
  readonly shape: [number, number];
  /**
   * `data`: float32 [rows, cols], or for float16/bfloat16 the packed int32 [rows, cols / 2].
   * `shape` is the logical [rows, cols].
   */
  constructor(
    readonly data: tf.Tensor2D,
    readonly dtype: WeightDType,
    shape: [number, number],
  ) {
    this.shape = shape;
    const packed = dtype !== 'float32';
    const want = packed ? [shape[0], shape[1] / 2] : shape;
    if (data.shape[0] !== want[0] || data.shape[1] !== want[1] || data.dtype !== (packed ? 'int32' : 'float32')) {
      throw new Error(`Weight: ${dtype} ${JSON.stringify(shape)} needs ${packed ? 'int32' : 'float32'} data ${JSON.stringify(want)}, got ${data.dtype} ${JSON.stringify(data.shape)}`);
    }
  }

  get packed(): boolean {
    return this.dtype !== 'float32';
  }

  /** Number of values. */
  get size(): number {
    return this.shape[0] * this.shape[1];
  }

  /** Bytes held on the device. */
  get bytes(): number {
    return this.data.size * 4;
  }

  dispose(): void {
    this.data.dispose();
  }
}

/** Whether 16-bit weights can be kept packed on the current backend (else they are widened at load). */
export function packedWeightsSupported(): boolean {
  return kernelsUsable() && hasKernel('PtUnpack16');
}

/**
 * A packed Weight from a checkpoint's 16-bit values (row-major [rows, cols], little-endian),
 * transposed first when `transpose` (so the result is [cols, rows]). `cols` after the transpose must be even.
 */
export function packedWeight(halves: Uint16Array, dtype: 'float16' | 'bfloat16', rows: number, cols: number, transpose = false): Weight {
  let data = halves;
  let [r, c] = [rows, cols];
  if (transpose) {
    data = transpose16(halves, rows, cols);
    [r, c] = [cols, rows];
  }
  if (c % 2) throw new Error(`packedWeight: a packed matrix needs an even number of columns, got ${c}`);
  const words = new Int32Array(data.buffer, data.byteOffset, data.length / 2);
  return new Weight(tf.tensor2d(words, [r, c / 2], 'int32'), dtype, [r, c]);
}

/** [rows, cols] → [cols, rows] in blocks, so that both sides stay in cache. */
function transpose16(src: Uint16Array, rows: number, cols: number): Uint16Array {
  const out = new Uint16Array(src.length);
  const B = 64;
  for (let r0 = 0; r0 < rows; r0 += B) {
    const r1 = Math.min(rows, r0 + B);
    for (let c0 = 0; c0 < cols; c0 += B) {
      const c1 = Math.min(cols, c0 + B);
      for (let r = r0; r < r1; r++) {
        const base = r * cols;
        for (let col = c0; col < c1; col++) out[col * rows + r] = src[base + col];
      }
    }
  }
  return out;
}

/** Float32 values of packed words [..., n / 2] → [..., n] (a new tensor; float32 input is returned as is). */
export function unpack(data: tf.Tensor, dtype: WeightDType): tf.Tensor {
  if (dtype === 'float32') return data;
  if (!hasKernel('PtUnpack16')) throw new Error(`${dtype} weights are packed but the ${tf.getBackend()} backend has no PtUnpack16 kernel (load the model on the backend it will run on)`);
  return tf.engine().runKernel('PtUnpack16', { x: data }, { bf16: dtype === 'bfloat16' ? 1 : 0 }) as tf.Tensor;
}

/** Float32 rows `ids` of a packed or float32 matrix → [ids.length, cols]. */
export function gatherRows(w: Weight, ids: Int32Array): tf.Tensor2D {
  const idx = tf.tensor1d(ids, 'int32');
  if (!w.packed) return tf.gather(w.data, idx);
  if (hasKernel('PtGatherPacked')) return tf.engine().runKernel('PtGatherPacked', { table: w.data, ids: idx }, { bf16: w.dtype === 'bfloat16' ? 1 : 0 }) as tf.Tensor2D;
  return unpack(tf.gather(w.data, idx), w.dtype) as tf.Tensor2D;
}

/** Packed or float32 matrices [rows, cols_i] of one dtype joined along their columns. */
export function concatColumns(parts: Weight[]): Weight {
  const rows = parts[0].shape[0];
  const cols = parts.reduce((a, p) => a + p.shape[1], 0);
  const { dtype } = parts[0];
  if (parts.some((p) => p.dtype !== dtype)) throw new Error(`concatColumns: parts have different dtypes (${parts.map((p) => p.dtype).join(', ')})`);
  if (dtype !== 'float32' && hasKernel('PtConcatPacked')) {
    const inputs = Object.fromEntries(parts.map((p, i) => [`p${i}`, p.data]));
    return new Weight(tf.engine().runKernel('PtConcatPacked', inputs) as tf.Tensor2D, dtype, [rows, cols]);
  }
  return new Weight(
    tf.concat(
      parts.map((p) => p.data),
      1,
    ),
    dtype,
    [rows, cols],
  );
}

/** The weight as a float32 [rows, cols] tensor: its own data when it is float32, else a new widened copy. */
export function widen(w: Weight): tf.Tensor2D {
  return unpack(w.data, w.dtype) as tf.Tensor2D;
}

/** a [M, K] · w (w [K, N]) or, with `transposeW`, a · wᵀ (w [N, K]); differentiable in `a`. */
export function weightMatMul(a: tf.Tensor2D, w: Weight, transposeW = false): tf.Tensor2D {
  if (!w.packed) return transposeW ? mmBT(a, w.data) : mm(a, w.data);
  // A custom op: the product's backward pass widens the weight again instead of keeping the
  // widened copy on the gradient tape.
  const op = customOp<[tf.Tensor]>((x) => ({
    value: packedProduct(x as tf.Tensor2D, w, transposeW),
    gradFunc: (dy: tf.Tensor) => packedProduct(dy as tf.Tensor2D, w, !transposeW),
  }));
  return op(a) as tf.Tensor2D;
}

/** Left operands of at most this many rows take a widened weight's transpose (packedProduct). */
export const FEW_ROWS = 64;

function packedProduct(a: tf.Tensor2D, w: Weight, transposeW: boolean): tf.Tensor2D {
  if (hasKernel('PtMatMulPacked')) {
    return tf.engine().runKernel('PtMatMulPacked', { a, b: w.data }, { bf16: w.dtype === 'bfloat16' ? 1 : 0, transposeB: transposeW ? 1 : 0 }) as tf.Tensor2D;
  }
  // WASM and CPU: widen this one matrix just before its product and free it right after, so at
  // most one widened matrix exists at a time.
  if (!transposeW && a.shape[0] <= FEW_ROWS && hasKernel('PtUnpack16T')) {
    // XNNPACK streams its right operand once per few rows of the left one, so a · w with w
    // [K, N] on the right reads all of w M / MR times: the tied LM head's backward (32 label
    // positions against a 16,384-row chunk of bloomz's table) ran at 5 GFLOP/s. As (wᵀ · aᵀ)ᵀ,
    // wᵀ widened transposed in the same one pass, w streams once and aᵀ is the small operand:
    // that product in 84 ms against 257 ms in Node (equal from about 128 rows on).
    const wideT = tf.engine().runKernel('PtUnpack16T', { x: w.data }, { bf16: w.dtype === 'bfloat16' ? 1 : 0 }) as tf.Tensor2D;
    const y = tf.transpose(tf.matMul(wideT, tf.transpose(a))) as tf.Tensor2D;
    wideT.dispose();
    return y;
  }
  const wide = widen(w);
  const y = transposeW ? mmBT(a, wide) : mm(a, wide);
  wide.dispose();
  return y;
}
