// Building blocks the families share. Every function here is pure tfjs and differentiable.
import * as tf from '@tensorflow/tfjs-core';
import type { WeightStore } from '../io/checkpoint.ts';
import type { ForwardOptions, KVCache } from './model.ts';
import { blockOp } from '../ops/block-op.ts';
import { RandomWeights } from './random-weights.ts';
import { EmbeddingTable } from './embedding-table.ts';
import { maxBufferBytes } from '../device-limits.ts';
import { ACTIVATIONS, type Activation } from '../ops/activations.ts';

export class ModelConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelConfigError';
  }
}

/** Additive mask value: large enough that exp() underflows to 0, finite so sums stay finite. */
export const MASKED = -1e30;

/** Uploads weights once as frozen tensors and remembers them for dispose(). */
export class WeightLoader {
  readonly tensors: tf.Tensor[] = [];
  parameterCount = 0;
  constructor(private readonly store: WeightStore, private readonly what: string) {}

  has(name: string): boolean {
    return this.store.has(name);
  }

  /** A weight of the expected shape; `transpose` stores a 2-D matrix as its transpose. */
  load(name: string, shape: number[], transpose = false): tf.Tensor {
    if (this.store instanceof RandomWeights) return this.keep(this.store.tensor(transpose ? [...shape].reverse() : shape));
    this.checkShape(name, shape);
    const { data } = this.store.get(name);
    let t: tf.Tensor = tf.tensor(data, shape, 'float32');
    if (transpose) {
      const tt = tf.transpose(t);
      t.dispose();
      t = tt;
    }
    return this.keep(t);
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

  /** A [rows, width] matrix as an EmbeddingTable, split so no chunk exceeds the device's buffer limit. */
  table(name: string, rows: number, width: number): EmbeddingTable {
    const maxBytes = maxBufferBytes();
    let table: EmbeddingTable;
    if (this.store instanceof RandomWeights) {
      const perChunk = Math.max(1, Math.min(rows, Math.floor(maxBytes / (width * 4))));
      const chunks: tf.Tensor2D[] = [];
      for (let r = 0; r < rows; r += perChunk) chunks.push(this.store.tensor([Math.min(perChunk, rows - r), width]) as tf.Tensor2D);
      table = new EmbeddingTable(chunks);
    } else {
      this.checkShape(name, [rows, width]);
      table = EmbeddingTable.fromData(this.store.get(name).data, rows, width, maxBytes);
    }
    for (const c of table.chunks) this.keep(c);
    return table;
  }

  /** Joins loaded [in, out_i] matrices (or vectors) along their last axis, so one matmul does the work of several. */
  fuse(parts: tf.Tensor[]): tf.Tensor {
    const fused = tf.concat(parts, parts[0].shape.length - 1);
    for (const p of parts) {
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

  optional(name: string, shape: number[], transpose = false): tf.Tensor | null {
    return this.store.has(name) ? this.load(name, shape, transpose) : null;
  }

  dispose(): void {
    for (const t of this.tensors) t.dispose();
    this.tensors.length = 0;
  }
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
export function causalBias(mask: number[][], T: number, window: number | null = null, positions?: number[][]): tf.Tensor4D {
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
    // number of real keys before it, as when the row runs alone.
    if (window !== null) {
      let n = 0;
      for (let j = 0; j < S; j++) {
        keyPos[j] = positions ? n : j;
        if (row[j]) n++;
      }
    }
    for (let i = 0; i < T; i++) {
      const base = (b * T + i) * S;
      const q = positions ? positions[b][i] : past + i;
      for (let j = 0; j < S; j++) if (j > past + i || !row[j] || (window !== null && q - keyPos[j] >= window)) bias[base + j] = MASKED;
    }
  }
  return tf.tensor4d(bias, [B, 1, T, S]);
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
 */
export function runBlocks<B>(
  blocks: B[],
  x: tf.Tensor,
  options: ForwardOptions,
  run: (blk: B, i: number, x: tf.Tensor, past?: { k: tf.Tensor4D; v: tf.Tensor4D }) => BlockRun,
  backward: (blk: B, i: number, dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor,
): { x: tf.Tensor; keys: tf.Tensor4D[]; values: tf.Tensor4D[] } {
  const keys: tf.Tensor4D[] = [];
  const values: tf.Tensor4D[] = [];
  blocks.forEach((blk, i) => {
    if (options.useCache || options.cache) {
      const r = run(blk, i, x, options.cache ? { k: options.cache.keys[i], v: options.cache.values[i] } : undefined);
      keys.push(r.k);
      values.push(r.v);
      x = r.y;
    } else {
      x = blockOp(x, (input) => run(blk, i, input), (dy, saved) => backward(blk, i, dy, saved));
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
export function forwardSpan(embeds: tf.Tensor3D, mask: number[][], options: ForwardOptions, what: string, limit?: { max: number; field: string }): { T: number; past: number; positions: number[][] | null } {
  const [B, T] = embeds.shape;
  const past = options.cache?.length ?? 0;
  if (mask.length !== B || mask.some((r) => r.length !== past + T)) {
    throw new Error(`attention mask must be [${B}][${past + T}] (batch x (cached + new) positions)`);
  }
  const positions = options.positions ?? null;
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
