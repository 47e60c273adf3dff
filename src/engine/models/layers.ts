// Building blocks the families share. Every function here is pure tfjs and differentiable.
import * as tf from '@tensorflow/tfjs-core';
import type { WeightStore } from '../io/checkpoint.ts';
import type { KVCache } from './model.ts';

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
    if (!this.store.has(name)) throw new ModelConfigError(`${this.what}: checkpoint is missing weight "${name}"`);
    const actual = this.store.shape(name);
    if (actual.length !== shape.length || actual.some((d, i) => d !== shape[i])) {
      throw new ModelConfigError(`${this.what}: weight "${name}" has shape ${JSON.stringify(actual)}, config.json implies ${JSON.stringify(shape)}`);
    }
    const { data } = this.store.get(name);
    let t: tf.Tensor = tf.tensor(data, shape, 'float32');
    if (transpose) {
      const tt = tf.transpose(t);
      t.dispose();
      t = tt;
    }
    this.tensors.push(t);
    this.parameterCount += data.length;
    return t;
  }

  optional(name: string, shape: number[], transpose = false): tf.Tensor | null {
    return this.store.has(name) ? this.load(name, shape, transpose) : null;
  }

  dispose(): void {
    for (const t of this.tensors) t.dispose();
    this.tensors.length = 0;
  }
}

/** x [..., in] · w [in, out] (+ b). */
export function linear(x: tf.Tensor, w: tf.Tensor2D, b?: tf.Tensor1D | null): tf.Tensor {
  const inDim = x.shape[x.shape.length - 1];
  const lead = x.shape.slice(0, -1);
  const x2 = tf.reshape(x, [-1, inDim]) as tf.Tensor2D;
  let y: tf.Tensor = tf.matMul(x2, w);
  if (b) y = tf.add(y, b);
  return tf.reshape(y, [...lead, w.shape[1]]);
}

export function layerNorm(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): tf.Tensor {
  const axis = x.shape.length - 1;
  const mean = tf.mean(x, axis, true);
  const centered = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centered), axis, true);
  return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, eps))), gamma), beta);
}

export function rmsNorm(x: tf.Tensor, weight: tf.Tensor1D, eps: number): tf.Tensor {
  const axis = x.shape.length - 1;
  const ms = tf.mean(tf.square(x), axis, true);
  return tf.mul(weight, tf.mul(x, tf.rsqrt(tf.add(ms, eps))));
}

/** GELU, tanh approximation (GPT-2's gelu_new, BLOOM's bloom_gelu). */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(inner)));
}

export function geluErf(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
}

export function silu(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.sigmoid(x));
}

export function activation(name: string, what: string): (x: tf.Tensor) => tf.Tensor {
  switch (name) {
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
    case 'gelu_fast':
      return geluTanh;
    case 'gelu':
      return geluErf;
    case 'silu':
    case 'swish':
      return silu;
    case 'relu':
      return tf.relu;
    default:
      throw new ModelConfigError(`${what}: activation "${name}" is not supported (supported: gelu_new, gelu_pytorch_tanh, gelu, silu, relu)`);
  }
}

/** [B, T, heads * hd] → [B, heads, T, hd]. */
export function splitHeads(x: tf.Tensor, heads: number, hd: number): tf.Tensor4D {
  const [B, T] = x.shape;
  return tf.transpose(tf.reshape(x, [B, T, heads, hd]), [0, 2, 1, 3]) as tf.Tensor4D;
}

/**
 * Causal attention bias [B, 1, T, S] from the key mask [B][S], for queries at positions
 * past .. past + T - 1 (S = past + T): 0 where a query may attend, MASKED elsewhere.
 */
export function causalBias(mask: number[][], T: number): tf.Tensor4D {
  const B = mask.length;
  const S = mask[0].length;
  const past = S - T;
  const bias = new Float32Array(B * T * S);
  for (let b = 0; b < B; b++) {
    const row = mask[b];
    for (let i = 0; i < T; i++) {
      const base = (b * T + i) * S;
      for (let j = 0; j < S; j++) if (j > past + i || !row[j]) bias[base + j] = MASKED;
    }
  }
  return tf.tensor4d(bias, [B, 1, T, S]);
}

/**
 * Scaled dot-product attention with grouped key/value heads (GQA): query head h reads
 * key/value head floor(h / (heads / kvHeads)), as transformers' repeat_kv does.
 * q [B, nh, T, hd], k and v [B, nkv, S, hd], bias broadcastable to [B, nh, T, S].
 * Returns [B, T, nh * hd].
 */
export function attention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, bias: tf.Tensor, scale: number): tf.Tensor3D {
  const [B, nh, T, hd] = q.shape;
  const nkv = k.shape[1];
  const S = k.shape[2];
  const group = nh / nkv;
  // Grouping the query heads of one kv head along the row axis avoids materialising repeated k/v.
  const qg = group === 1 ? q : tf.reshape(q, [B, nkv, group * T, hd]);
  let scores: tf.Tensor = tf.matMul(qg, k, false, true);
  if (group !== 1) scores = tf.reshape(scores, [B, nh, T, S]);
  scores = tf.add(tf.mul(scores, scale), bias);
  let probs: tf.Tensor = tf.softmax(scores);
  if (group !== 1) probs = tf.reshape(probs, [B, nkv, group * T, S]);
  let out: tf.Tensor = tf.matMul(probs, v);
  if (group !== 1) out = tf.reshape(out, [B, nh, T, hd]);
  return tf.reshape(tf.transpose(out, [0, 2, 1, 3]), [B, T, nh * hd]) as tf.Tensor3D;
}

/** Appends this step's keys/values to the layer's cache entry (or starts it). */
export function extendKV(cache: KVCache | undefined, layer: number, k: tf.Tensor4D, v: tf.Tensor4D): [tf.Tensor4D, tf.Tensor4D] {
  if (!cache) return [k, v];
  return [tf.concat([cache.keys[layer], k], 2) as tf.Tensor4D, tf.concat([cache.values[layer], v], 2) as tf.Tensor4D];
}

/** Returns the cache a forward pass produced (tensors are kept by the caller's tidy). */
export function nextCache(mask: number[][], keys: tf.Tensor4D[], values: tf.Tensor4D[]): KVCache {
  return { keys, values, mask, length: mask[0].length };
}

export function checkMask(mask: number[][], B: number, T: number, past: number): void {
  if (mask.length !== B || mask.some((r) => r.length !== past + T)) {
    throw new Error(`attention mask must be [${B}][${past + T}] (batch x (cached + new) positions)`);
  }
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
