// The token embedding matrix (and tied LM head), split into row chunks that each fit one
// device buffer. WebGPU guarantees only 128 MiB per storage binding; bloomz-560m's embedding
// is about 1 GB in float32. Every use (row lookup, logits, the logits' backward product) runs
// per chunk, with the row bookkeeping done in JS.
import * as tf from '@tensorflow/tfjs-core';
import { mm, mmBT } from '../ops/matmul.ts';

export class EmbeddingTable {
  readonly rows: number;
  readonly width: number;
  /** First row of each chunk. */
  readonly offsets: number[];

  constructor(readonly chunks: tf.Tensor2D[]) {
    this.width = chunks[0].shape[1];
    this.offsets = [];
    let r = 0;
    for (const c of chunks) {
      this.offsets.push(r);
      r += c.shape[0];
    }
    this.rows = r;
  }

  /** Splits `data` [rows, width] into chunks of at most `maxBytes` each. */
  static fromData(data: Float32Array, rows: number, width: number, maxBytes: number): EmbeddingTable {
    const perChunk = Math.max(1, Math.min(rows, Math.floor(maxBytes / (width * 4))));
    const chunks: tf.Tensor2D[] = [];
    for (let r = 0; r < rows; r += perChunk) {
      const n = Math.min(perChunk, rows - r);
      chunks.push(tf.tensor2d(data.subarray(r * width, (r + n) * width), [n, width]));
    }
    return new EmbeddingTable(chunks);
  }

  private chunkOf(id: number): number {
    if (!(id >= 0 && id < this.rows)) throw new Error(`token id ${id} is outside the vocabulary [0, ${this.rows})`);
    let c = this.chunks.length - 1;
    while (this.offsets[c] > id) c--;
    return c;
  }

  /** Rows for flat ids → [ids.length, width]. */
  lookup(ids: ArrayLike<number>): tf.Tensor2D {
    if (this.chunks.length === 1) return tf.gather(this.chunks[0], tf.tensor1d(Int32Array.from(ids), 'int32'));
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
      parts.push(tf.gather(this.chunks[c], tf.tensor1d(local, 'int32')));
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
    const parts = this.chunks.map((c) => mmBT(h, c));
    return parts.length === 1 ? parts[0] : (tf.concat(parts, 1) as tf.Tensor2D);
  }

  /** d [N, rows] · table → [N, width] (the input gradient of `scores`). */
  scoresBackward(d: tf.Tensor2D): tf.Tensor2D {
    if (this.chunks.length === 1) return mm(d, this.chunks[0]);
    // A running sum: WebGPU's AddN binds every input at once and a stage allows only 8 buffers.
    return this.chunks.map((c, i) => mm(tf.slice(d, [0, this.offsets[i]], [-1, c.shape[0]]) as tf.Tensor2D, c)).reduce((a, b) => tf.add(a, b));
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

  dispose(): void {
    for (const c of this.chunks) c.dispose();
  }
}
