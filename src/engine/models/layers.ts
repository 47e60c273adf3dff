// Building blocks the families share. Every function here is pure tfjs and differentiable.
import * as tf from '@tensorflow/tfjs-core';
import type { WeightStore } from '../io/checkpoint.ts';
import type { ForwardOptions, KVCache } from './model.ts';
import { blockOp } from '../ops/block-op.ts';
import { BlockAdapter } from './block-adapter.ts';
import { RandomWeights } from './random-weights.ts';
import { EmbeddingTable } from './embedding-table.ts';
import { maxBufferBytes } from '../device-limits.ts';
import { ACTIVATIONS, type Activation } from '../ops/activations.ts';
import { hasKernel } from '../kernels/registry.ts';
import { concatColumns, packedWeight, packedWeightsSupported, Weight, widen } from '../ops/weight.ts';

export class ModelConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelConfigError';
  }
}

/** Additive mask value: large enough that exp() underflows to 0, finite so sums stay finite. */
export const MASKED = -1e30;

/**
 * Uploads weights once as frozen tensors and remembers them for dispose(). Matrices keep the
 * checkpoint's dtype (ops/weight.ts: F16/BF16 stay packed where the backend's kernels read
 * them); vectors are small and are widened to float32.
 */
export class WeightLoader {
  readonly tensors: tf.Tensor[] = [];
  readonly weights: Weight[] = [];
  parameterCount = 0;
  constructor(
    private readonly store: WeightStore,
    private readonly what: string,
  ) {}

  has(name: string): boolean {
    return this.store.has(name);
  }

  /** Bytes the weights hold on the device (a tied matrix once). */
  get weightBytes(): number {
    return this.tensors.reduce((a, t) => a + t.size * 4, 0) + this.weights.reduce((a, w) => a + w.bytes, 0);
  }

  /** A float32 tensor of the expected shape (vectors and small tables); `transpose` stores a 2-D matrix as its transpose. */
  load(name: string, shape: number[], transpose = false): tf.Tensor {
    if (this.store instanceof RandomWeights) return this.keep(this.store.tensor(transpose ? [...shape].reverse() : shape));
    this.checkShape(name, shape);
    const { data } = this.store.get(name);
    this.store.release(name);
    let t: tf.Tensor = tf.tensor(data, shape, 'float32');
    if (transpose) {
      const tt = tf.transpose(t);
      t.dispose();
      t = tt;
    }
    return this.keep(t);
  }

  /**
   * A weight matrix of the expected [rows, cols] shape, in the checkpoint's dtype; `transpose`
   * stores it as its transpose [cols, rows] (HF Linear weights are [out, in]; products read [in, out]).
   */
  matrix(name: string, shape: [number, number], transpose = false): Weight {
    const [rows, cols] = transpose ? [shape[1], shape[0]] : shape;
    if (this.store instanceof RandomWeights) return this.keepWeight(new Weight(this.store.tensor([rows, cols]) as tf.Tensor2D, 'float32', [rows, cols]));
    this.checkShape(name, shape);
    const raw = this.store.raw(name);
    const dtype = SIXTEEN_BIT[raw.dtype];
    if (dtype && cols % 2 === 0 && packedWeightsSupported()) {
      const w = packedWeight(halvesOf(raw.bytes, shape, name), dtype, shape[0], shape[1], transpose);
      this.store.release(name);
      return this.keepWeight(w);
    }
    const t = this.load(name, shape, transpose);
    this.tensors.splice(this.tensors.indexOf(t), 1);
    this.parameterCount -= t.size;
    return this.keepWeight(new Weight(t as tf.Tensor2D, 'float32', [rows, cols]));
  }

  private checkShape(name: string, shape: number[]): void {
    if (!this.store.has(name)) throw new ModelConfigError(`${this.what}: checkpoint is missing weight "${name}"`);
    const actual = this.store.shape(name);
    if (actual.length !== shape.length || actual.some((d, i) => d !== shape[i])) {
      throw new ModelConfigError(`${this.what}: weight "${name}" has shape ${JSON.stringify(actual)}, config.json implies ${JSON.stringify(shape)}`);
    }
  }

  private keep(t: tf.Tensor): tf.Tensor {
    this.tensors.push(t);
    this.parameterCount += t.size;
    return t;
  }

  private keepWeight(w: Weight): Weight {
    this.weights.push(w);
    this.parameterCount += w.size;
    return w;
  }

  /** A [rows, width] matrix as an EmbeddingTable, split so no chunk exceeds the device's buffer limit. */
  table(name: string, rows: number, width: number): EmbeddingTable {
    const maxBytes = maxBufferBytes();
    let chunks: Weight[];
    if (this.store instanceof RandomWeights) {
      const perChunk = Math.max(1, Math.min(rows, Math.floor(maxBytes / (width * 4))));
      chunks = [];
      for (let r = 0; r < rows; r += perChunk) {
        const n = Math.min(perChunk, rows - r);
        chunks.push(new Weight(this.store.tensor([n, width]) as tf.Tensor2D, 'float32', [n, width]));
      }
    } else {
      this.checkShape(name, [rows, width]);
      const raw = this.store.raw(name);
      const dtype = SIXTEEN_BIT[raw.dtype];
      // Where products widen a packed chunk first (WASM, CPU), chunks stay small so the widened copy does too.
      const packedMax = hasKernel('PtMatMulPacked') ? maxBytes : Math.min(maxBytes, WIDENED_TABLE_CHUNK_BYTES / 2);
      chunks =
        dtype && width % 2 === 0 && packedWeightsSupported()
          ? EmbeddingTable.chunkPacked(halvesOf(raw.bytes, [rows, width], name), dtype, rows, width, packedMax)
          : EmbeddingTable.chunkFloat(this.store.get(name).data, rows, width, maxBytes);
      this.store.release(name);
    }
    for (const c of chunks) this.keepWeight(c);
    return new EmbeddingTable(chunks);
  }

  /** Joins loaded [in, out_i] matrices (or vectors) along their last axis, so one product does the work of several. */
  fuse(parts: Weight[]): Weight;
  fuse(parts: tf.Tensor[]): tf.Tensor;
  fuse(parts: Weight[] | tf.Tensor[]): Weight | tf.Tensor {
    if (parts[0] instanceof Weight) return this.fuseWeights(parts as Weight[]);
    const tensors = parts as tf.Tensor[];
    const fused = tf.concat(tensors, tensors[0].shape.length - 1);
    for (const p of tensors) {
      this.tensors.splice(this.tensors.indexOf(p), 1);
      p.dispose();
    }
    this.tensors.push(fused);
    return fused;
  }

  /** Swaps a loaded tensor for one derived from it (Gemma's 1 + w norm scales), keeping the bookkeeping. */
  replace(t: tf.Tensor, derive: (t: tf.Tensor) => tf.Tensor): tf.Tensor {
    const next = tf.tidy(() => derive(t));
    this.tensors.splice(this.tensors.indexOf(t), 1, next);
    t.dispose();
    return next;
  }

  private fuseWeights(parts: Weight[]): Weight {
    // Packed words concatenate like the values (every part has an even width); mixed dtypes are widened.
    const same = parts.every((p) => p.dtype === parts[0].dtype);
    const fused = same ? concatColumns(parts) : concatColumns(parts.map((p) => new Weight(p.packed ? widen(p) : p.data, 'float32', p.shape)));
    for (const p of parts) {
      this.weights.splice(this.weights.indexOf(p), 1);
      p.dispose();
    }
    this.weights.push(fused);
    return fused;
  }

  optional(name: string, shape: number[], transpose = false): tf.Tensor | null {
    return this.store.has(name) ? this.load(name, shape, transpose) : null;
  }

  dispose(): void {
    for (const t of this.tensors) t.dispose();
    for (const w of this.weights) w.dispose();
    this.tensors.length = 0;
    this.weights.length = 0;
  }
}

/** Largest float32 copy of a packed table chunk that a product on WASM or CPU makes. */
const WIDENED_TABLE_CHUNK_BYTES = 64 * 2 ** 20;

const SIXTEEN_BIT: Partial<Record<string, 'float16' | 'bfloat16'>> = { F16: 'float16', BF16: 'bfloat16' };

/** A stored tensor's 16-bit values, copied to an aligned buffer (the data section has no alignment guarantee). */
function halvesOf(bytes: Uint8Array, shape: number[], name: string): Uint16Array {
  const n = shape.reduce((a, b) => a * b, 1);
  if (bytes.byteLength !== n * 2) throw new ModelConfigError(`weight "${name}": ${bytes.byteLength} bytes stored for 16-bit ${JSON.stringify(shape)}, which needs ${n * 2}`);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new Uint16Array(copy.buffer);
}

export function activation(name: string, what: string): Activation {
  const act = ACTIVATIONS[name];
  if (!act) throw new ModelConfigError(`${what}: activation "${name}" is not supported (supported: ${Object.keys(ACTIVATIONS).join(', ')})`);
  return act;
}

/**
 * Causal attention bias [B, 1, T, S] from the key mask [B][S], for queries at positions
 * past .. past + T - 1 (S = past + T): 0 where a query may attend, MASKED elsewhere. With a
 * sliding `window`, a query at q also sees only keys k with q - k < window (transformers'
 * sliding_window_overlay).
 */
export function causalBias(mask: number[][], T: number, window: number | null = null, positions?: number[][], segments?: { query: number[]; key: number[] }): tf.Tensor4D {
  const B = mask.length;
  const S = mask[0].length;
  const past = S - T;
  const bias = new Float32Array(B * T * S);
  const keyPos = new Int32Array(S);
  for (let b = 0; b < B; b++) {
    const row = mask[b];
    // A sliding window counts positions back from the query. Without per-row positions a column is
    // its position (transformers' cache_position, left padding included); with them (rows of a
    // mixed batch, padded between their tokens and the ones decoded later) a key's position is the
    // number of real keys before it, as when the row runs alone (in a packed batch, of its sequence).
    if (window !== null) {
      if (segments) keyPos.set(sequencePositions(row, segments.key));
      else {
        let n = 0;
        for (let j = 0; j < S; j++) {
          keyPos[j] = positions ? n : j;
          if (row[j]) n++;
        }
      }
    }
    for (let i = 0; i < T; i++) {
      const base = (b * T + i) * S;
      const q = positions ? positions[b][i] : past + i;
      const seq = segments ? segments.query[i] : 0;
      for (let j = 0; j < S; j++) {
        if (j > past + i || !row[j] || (segments && segments.key[j] !== seq) || (window !== null && q - keyPos[j] >= window)) bias[base + j] = MASKED;
      }
    }
  }
  return tf.tensor4d(bias, [B, 1, T, S]);
}

/** Per key of a packed row: its index among the real keys of its own sequence (0 on masked keys). */
export function sequencePositions(mask: number[], key: number[]): Int32Array {
  const seen = new Map<number, number>();
  const out = new Int32Array(mask.length);
  mask.forEach((m, j) => {
    if (!m) return;
    const n = seen.get(key[j]) ?? 0;
    out[j] = n;
    seen.set(key[j], n + 1);
  });
  return out;
}

export interface BlockRun {
  y: tf.Tensor;
  k: tf.Tensor4D;
  v: tf.Tensor4D;
  saved: tf.Tensor[];
}

/**
 * Runs the blocks over x. Training (no cache) makes each block one differentiable op with its
 * hand-written backward pass; decoding runs the forward pass alone and collects keys/values.
 * Each block gets its BlockAdapter: the cache's or the prefix's past for that layer, and the
 * layer's LoRA factors.
 */
export function runBlocks<B>(
  blocks: B[],
  x: tf.Tensor,
  options: ForwardOptions,
  run: (blk: B, i: number, x: tf.Tensor, adapter: BlockAdapter) => BlockRun,
  backward: (blk: B, i: number, dy: tf.Tensor, saved: tf.Tensor[], adapter: BlockAdapter) => tf.Tensor,
): { x: tf.Tensor; keys: tf.Tensor4D[]; values: tf.Tensor4D[] } {
  const keys: tf.Tensor4D[] = [];
  const values: tf.Tensor4D[] = [];
  const { cache, prefix, lora } = options;
  if (cache && prefix) throw new Error('forward: a prefix and a cache at once (a prefix becomes the first cache when decoding)');
  if (lora && lora.length !== blocks.length) throw new Error(`forward: LoRA factors for ${lora.length} layers, the model has ${blocks.length}`);
  if (prefix && (prefix.keys.length !== blocks.length || prefix.values.length !== blocks.length))
    throw new Error(`forward: prefix keys/values for ${prefix.keys.length} layers, the model has ${blocks.length}`);
  blocks.forEach((blk, i) => {
    const past = cache ? { k: cache.keys[i], v: cache.values[i] } : prefix ? { k: prefix.keys[i], v: prefix.values[i] } : null;
    const mixed = (options.mixedLora ?? []).map((g) => ({ factors: g.layers[i], rows: g.rows, tokens: g.tokens }));
    const adapter = past || lora || mixed.length ? new BlockAdapter(past, !!prefix, lora?.[i] ?? null, options.dropout, mixed) : BlockAdapter.NONE;
    if (options.useCache || cache) {
      const r = run(blk, i, x, adapter);
      keys.push(r.k);
      values.push(r.v);
      x = r.y;
    } else {
      x = blockOp(
        x,
        adapter,
        (input) => run(blk, i, input, adapter),
        (dy, saved) => backward(blk, i, dy, saved, adapter),
      );
    }
  });
  return { x, keys, values };
}

/** Returns the cache a forward pass produced (tensors are kept by the caller's tidy). */
export function nextCache(mask: number[][], keys: tf.Tensor4D[], values: tf.Tensor4D[]): KVCache {
  return { keys, values, mask, length: mask[0].length };
}

/**
 * New positions T and cached positions `past` of a forward call, after checking the mask covers
 * both and (where the model has one) the position limit. `limit` names the config field.
 */
export function forwardSpan(
  embeds: tf.Tensor3D,
  mask: number[][],
  options: ForwardOptions,
  what: string,
  limit?: { max: number; field: string },
): { T: number; past: number; positions: number[][] | null } {
  const [B, T] = embeds.shape;
  const past = options.cache?.length ?? options.prefix?.keys[0]?.shape[2] ?? 0;
  if (mask.length !== B || mask.some((r) => r.length !== past + T)) {
    throw new Error(`attention mask must be [${B}][${past + T}] (batch x (cached + new) positions)`);
  }
  const positions = options.positions ?? null;
  const seg = options.segments;
  if (seg) {
    if (B !== 1 || !positions) throw new Error(`${what}: packed sequences (segments) need a batch of one row and position ids`);
    if (seg.query.length !== T || seg.key.length !== past + T) throw new Error(`${what}: segments must tag ${T} new positions and ${past + T} keys`);
    if (seg.query.some((s, i) => seg.key[past + i] !== s)) throw new Error(`${what}: the new keys' segments must be the new positions' own`);
  }
  if (positions) {
    if (positions.length !== B || positions.some((r) => !Array.isArray(r) || r.length !== T)) throw new Error(`${what}: positions must be [${B}][${T}] (batch x new positions)`);
    const bad = positions.flat().find((p) => !Number.isInteger(p) || p < 0 || (limit !== undefined && p >= limit.max));
    if (bad !== undefined) throw new Error(`${what}: position id ${bad} is not an integer in [0, ${limit ? `${limit.field} ${limit.max}` : 'inf'})`);
  } else if (limit && past + T > limit.max) throw new Error(`${what}: sequence of ${past + T} positions exceeds ${limit.field} ${limit.max}`);
  return { T, past, positions };
}

export function numberField(config: Record<string, unknown>, names: string[], what: string, fallback?: number): number {
  for (const n of names) {
    const v = config[n];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ModelConfigError(`${what}: config.json field "${n}" must be a number, got ${JSON.stringify(v)}`);
    return v;
  }
  if (fallback !== undefined) return fallback;
  throw new ModelConfigError(`${what}: config.json is missing "${names[0]}"`);
}

export function positiveInt(config: Record<string, unknown>, names: string[], what: string, fallback?: number): number {
  const v = numberField(config, names, what, fallback);
  if (!Number.isInteger(v) || v <= 0) throw new ModelConfigError(`${what}: config.json field "${names[0]}" must be a positive integer, got ${v}`);
  return v;
}

export function tokenIds(v: unknown): number[] {
  if (typeof v === 'number') return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === 'number');
  return [];
}

export function optionalId(v: unknown): number | null {
  return typeof v === 'number' ? v : null;
}
