// The token embedding matrix (and tied LM head), split into row chunks that each fit one
// device buffer. WebGPU guarantees only 128 MiB per storage binding; bloomz-560m's embedding
// is 514 MB in F16 (1 GB in float32). Every use (row lookup, logits, the logits' backward
// product) runs per chunk, with the row bookkeeping done in JS. Chunks keep the checkpoint's
// dtype (ops/weight.ts): looked-up rows are widened after the gather, products read packed words.
import * as tf from '@tensorflow/tfjs-core';
import { gatherRows, packedWeight, weightMatMul, Weight } from '../ops/weight.ts';

export class EmbeddingTable {
  readonly rows: number;
  readonly width: number;
  /** First row of each chunk. */
  readonly offsets: number[];

  constructor(readonly chunks: Weight[]) {
    this.width = chunks[0].shape[1];
    this.offsets = [];
    let r = 0;
    for (const c of chunks) {
      this.offsets.push(r);
      r += c.shape[0];
    }
    this.rows = r;
  }

  /** Rows per chunk so that a chunk of `bytesPerValue`-byte values stays within `maxBytes`. */
  static rowsPerChunk(rows: number, width: number, bytesPerValue: number, maxBytes: number): number {
    return Math.max(1, Math.min(rows, Math.floor(maxBytes / (width * bytesPerValue))));
  }

  /** Float32 `data` [rows, width] as chunks of at most `maxBytes` each. */
  static chunkFloat(data: Float32Array, rows: number, width: number, maxBytes: number): Weight[] {
    const perChunk = EmbeddingTable.rowsPerChunk(rows, width, 4, maxBytes);
    const chunks: Weight[] = [];
    for (let r = 0; r < rows; r += perChunk) {
      const n = Math.min(perChunk, rows - r);
      chunks.push(new Weight(tf.tensor2d(data.subarray(r * width, (r + n) * width), [n, width]), 'float32', [n, width]));
    }
    return chunks;
  }

  /** 16-bit `halves` [rows, width] (width even) as packed chunks of at most `maxBytes` each. */
  static chunkPacked(halves: Uint16Array, dtype: 'float16' | 'bfloat16', rows: number, width: number, maxBytes: number): Weight[] {
    const perChunk = EmbeddingTable.rowsPerChunk(rows, width, 2, maxBytes);
    const chunks: Weight[] = [];
    for (let r = 0; r < rows; r += perChunk) {
      const n = Math.min(perChunk, rows - r);
      chunks.push(packedWeight(halves.subarray(r * width, (r + n) * width), dtype, n, width));
    }
    return chunks;
  }

  /** Float32 rows `local` of one chunk → [local.length, width]. */
  private gather(c: number, local: ArrayLike<number>): tf.Tensor2D {
    return gatherRows(this.chunks[c], Int32Array.from(local));
  }

  private chunkOf(id: number): number {
    if (!(id >= 0 && id < this.rows)) throw new Error(`token id ${id} is outside the vocabulary [0, ${this.rows})`);
    let c = this.chunks.length - 1;
    while (this.offsets[c] > id) c--;
    return c;
  }

  /** Rows for flat ids → [ids.length, width]. */
  lookup(ids: ArrayLike<number>): tf.Tensor2D {
    if (this.chunks.length === 1) return this.gather(0, ids);
    // Gather from each chunk the ids it holds, then put the rows back in order.
    const byChunk: number[][] = this.chunks.map(() => []);
    const positions: number[][] = this.chunks.map(() => []);
    Array.from(ids).forEach((id, i) => {
      const c = this.chunkOf(id);
      byChunk[c].push(id - this.offsets[c]);
      positions[c].push(i);
    });
    const parts: tf.Tensor2D[] = [];
    const order = new Int32Array(ids.length);
    let at = 0;
    byChunk.forEach((local, c) => {
      if (!local.length) return;
      parts.push(this.gather(c, local));
      positions[c].forEach((p) => (order[p] = at++));
    });
    return tf.gather(tf.concat(parts, 0), tf.tensor1d(order, 'int32'));
  }

  /** Embeddings for ids [B, T] → [B, T, width]. */
  embed(ids: number[][]): tf.Tensor3D {
    return tf.reshape(this.lookup(ids.flat()), [ids.length, ids[0].length, this.width]) as tf.Tensor3D;
  }

  /** h [N, width] · tableᵀ → [N, rows] (logits when the table is the LM head). */
  scores(h: tf.Tensor2D): tf.Tensor2D {
    const parts = this.chunks.map((c) => weightMatMul(h, c, true));
    return parts.length === 1 ? parts[0] : (tf.concat(parts, 1) as tf.Tensor2D);
  }

  /** d [N, rows] · table → [N, width] (the input gradient of `scores`). */
  scoresBackward(d: tf.Tensor2D): tf.Tensor2D {
    if (this.chunks.length === 1) return weightMatMul(d, this.chunks[0]);
    // A running sum: WebGPU's AddN binds every input at once and a stage allows only 8 buffers.
    return this.chunks.map((c, i) => weightMatMul(tf.slice(d, [0, this.offsets[i]], [-1, c.shape[0]]) as tf.Tensor2D, c)).reduce((a, b) => tf.add(a, b));
  }

  /**
   * Rows as float32 values (for soft-prompt init). Read asynchronously: a synchronous read on
   * WebGPU goes through a canvas, which a worker on a software adapter cannot always provide.
   */
  async rowValues(ids: number[]): Promise<Float32Array> {
    const rows = tf.tidy(() => this.lookup(ids));
    try {
      return (await rows.data()) as Float32Array;
    } finally {
      rows.dispose();
    }
  }

  /**
   * L2 norm of every row → [rows]. Packed chunks are widened a block of rows at a time, each
   * block within the size of one packed chunk.
   */
  rowNorms(): tf.Tensor1D {
    const norms = this.chunks.map((c) => {
      if (!c.packed) return tf.norm(c.data, 'euclidean', 1);
      const step = Math.max(1, Math.floor(c.shape[0] / 2));
      const parts: tf.Tensor[] = [];
      for (let r = 0; r < c.shape[0]; r += step) {
        const n = Math.min(step, c.shape[0] - r);
        parts.push(
          tf.norm(
            gatherRows(
              c,
              Int32Array.from({ length: n }, (_, i) => r + i),
            ),
            'euclidean',
            1,
          ),
        );
      }
      return parts.length === 1 ? parts[0] : tf.concat(parts, 0);
    });
    return (norms.length === 1 ? norms[0] : tf.concat(norms, 0)) as tf.Tensor1D;
  }

  /** Bytes the chunks hold on the device. */
  get bytes(): number {
    return this.chunks.reduce((a, c) => a + c.bytes, 0);
  }

  dispose(): void {
    for (const c of this.chunks) c.dispose();
  }
}
