// Mixed-adapter batches: one forward pass over rows that each carry their own soft prompt (prompt
// tuning, or P-tuning's saved prompt_embeddings), of any length V, or none. PEFT cannot do this
// (its prompt-learning models take one adapter per batch), so the layout is PEFT's for each row
// alone, right padded: row b is [prompt_b (V_b), tokens_b (L_b), padding], the mask is V_b + L_b
// ones then zeros, positions run 0 .. V_b + L_b - 1 as when the row runs alone. Padding sits
// after every real position and is masked, so no real position sees it. Decoding then feeds one
// token per row at that row's own position (ForwardOptions.positions), the cache keeping the
// padding holes masked.
import * as tf from '@tensorflow/tfjs-core';
import { pickToken, type GenerateOptions } from '../generate.ts';
import { disposeCache, type CausalLM, type KVCache } from '../models/model.ts';
import { Rng } from '../random.ts';
import { tidy } from '../tidy.ts';

export interface MixedRow {
  /** Soft prompt [V, H] prepended to this row, or null for the base model. */
  prompt: tf.Tensor2D | null;
  inputIds: number[];
}

export interface MixedGenerateRow extends MixedRow {
  options: GenerateOptions;
  /** Called with the row's new ids after each token; true ends the row (e.g. a stop string). */
  stopWhen?: (ids: number[]) => boolean;
}

export class MixedBatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MixedBatchError';
  }
}

/** V_b + L_b of each row, after checking every row fits the model. */
export function rowLengths(model: CausalLM, rows: MixedRow[]): number[] {
  if (rows.length === 0) throw new MixedBatchError('a mixed batch needs at least one row');
  const { hiddenSize, vocabSize, contextLength } = model.config;
  return rows.map((r, b) => {
    const V = r.prompt ? r.prompt.shape[0] : 0;
    if (r.prompt && (r.prompt.rank !== 2 || r.prompt.shape[1] !== hiddenSize))
      throw new MixedBatchError(`row ${b}: soft prompt is ${JSON.stringify(r.prompt.shape)}, the model needs [V, ${hiddenSize}]`);
    const bad = r.inputIds.find((id) => !Number.isInteger(id) || id < 0 || id >= vocabSize);
    if (bad !== undefined) throw new MixedBatchError(`row ${b}: token id ${bad} is not in [0, ${vocabSize})`);
    if (V + r.inputIds.length === 0) throw new MixedBatchError(`row ${b}: needs at least one input token or a soft prompt`);
    if (V + r.inputIds.length > contextLength) throw new MixedBatchError(`row ${b}: ${r.inputIds.length} tokens + ${V} virtual exceed the model's ${contextLength}-token context`);
    return V + r.inputIds.length;
  });
}

/** Right-padded input embeddings [B, S, H] and mask [B][S], S the longest V_b + L_b. */
export function mixedInputs(model: CausalLM, rows: MixedRow[]): { embeds: tf.Tensor3D; mask: number[][]; lengths: number[] } {
  const lengths = rowLengths(model, rows);
  const S = Math.max(...lengths);
  const H = model.config.hiddenSize;
  const embeds = tidy(() => {
    const parts = rows.map((r, b) => {
      const pieces: tf.Tensor2D[] = [];
      if (r.prompt) pieces.push(r.prompt);
      if (r.inputIds.length) pieces.push(tf.reshape(model.embed([r.inputIds]), [r.inputIds.length, H]) as tf.Tensor2D);
      // Masked positions: what they hold never reaches a real position.
      if (S > lengths[b]) pieces.push(tf.zeros([S - lengths[b], H]));
      return pieces.length === 1 ? pieces[0] : tf.concat(pieces, 0);
    });
    return tf.stack(parts) as tf.Tensor3D;
  });
  const mask = lengths.map((n) => Array.from({ length: S }, (_, i) => (i < n ? 1 : 0)));
  return { embeds, mask, lengths };
}

/** Logits [B, S, vocab] of the mixed batch; row b's first V_b + L_b positions are its own. */
export function mixedLogits(model: CausalLM, rows: MixedRow[]): { logits: tf.Tensor3D; lengths: number[] } {
  return tidy(() => {
    const { embeds, mask, lengths } = mixedInputs(model, rows);
    const { hidden } = model.forward(embeds, mask);
    const [B, S, H] = hidden.shape;
    const flat = model.logits(tf.reshape(hidden, [B * S, H]) as tf.Tensor2D);
    return { logits: tf.reshape(flat, [B, S, -1]) as tf.Tensor3D, lengths };
  });
}

/** Logits [B, vocab] at each row's last real position. */
function lastLogits(model: CausalLM, hidden: tf.Tensor3D, last: number[]): tf.Tensor2D {
  const [B, S, H] = hidden.shape;
  const picked = tf.gather(
    tf.reshape(hidden, [B * S, H]),
    tf.tensor1d(
      last.map((t, b) => b * S + t),
      'int32',
    ),
  ) as tf.Tensor2D;
  return model.logits(picked);
}

interface LiveRow {
  row: MixedGenerateRow;
  out: number[];
  rng: Rng;
  stop: Set<number>;
  maxNew: number;
  /** Real positions so far (the next token's position id). */
  count: number;
}

/** Keys, values and mask of `cache` with `n` masked columns put in front (a row that joins later sits at the end). */
function padFront(cache: KVCache, n: number): KVCache {
  if (n === 0) return cache;
  const pad = (t: tf.Tensor4D) =>
    tf.pad(t, [
      [0, 0],
      [0, 0],
      [n, 0],
      [0, 0],
    ]) as tf.Tensor4D;
  return { keys: cache.keys.map(pad), values: cache.values.map(pad), mask: cache.mask.map((m) => [...new Array<number>(n).fill(0), ...m]), length: cache.length + n };
}

/**
 * A decoding batch that rows join and leave between steps (continuous batching): a joining
 * group of rows is prefilled in its own pass (right padded, positions from 0) and its cache is
 * appended to the batch's, aligned to the right so the columns of rows that have left can be
 * cut from the front. Every row decodes at its own position id with the padding masked, so each
 * row gets exactly the ids it would get alone (generate.ts).
 */
export class DecodeBatch {
  private live: LiveRow[] = [];
  private cache: KVCache | null = null;
  /** Next-token logits of the live rows, in row order, one tensor per group. */
  private pending: tf.Tensor2D[] = [];

  constructor(private readonly model: CausalLM) {}

  get size(): number {
    return this.live.length;
  }

  /** The rows' prefill pass; a row with no token to generate finishes at the next step. */
  add(rows: MixedGenerateRow[]): void {
    if (rows.length === 0) return;
    const lengths = rowLengths(this.model, rows);
    const limit = this.model.config.contextLength;
    const { logits, cache } = tidy(() => {
      const { embeds, mask } = mixedInputs(this.model, rows);
      const { hidden, cache: c } = this.model.forward(embeds, mask, { useCache: true });
      return {
        logits: lastLogits(
          this.model,
          hidden,
          lengths.map((n) => n - 1),
        ),
        cache: c as KVCache,
      };
    });
    if (!this.cache) this.cache = cache;
    else {
      const S = Math.max(this.cache.length, cache.length);
      const [a, b] = [padFront(this.cache, S - this.cache.length), padFront(cache, S - cache.length)];
      const merged = tidy(() => ({ keys: a.keys.map((k, i) => tf.concat([k, b.keys[i]], 0) as tf.Tensor4D), values: a.values.map((v, i) => tf.concat([v, b.values[i]], 0) as tf.Tensor4D) }));
      for (const c of [a, b, this.cache, cache]) disposeCache(c);
      this.cache = { ...merged, mask: [...a.mask, ...b.mask], length: S };
    }
    this.pending.push(logits);
    rows.forEach((row, b) => {
      const maxNew = Math.max(0, Math.min(row.options.maxNewTokens, limit - lengths[b]));
      this.live.push({ row, out: [], rng: new Rng(row.options.seed ?? 0), stop: new Set(row.options.stopTokenIds ?? []), maxNew, count: lengths[b] });
    });
  }

  /** Picks every live row's next token, lets finished rows leave, and runs one pass for the rest. */
  async step(): Promise<{ row: MixedGenerateRow; ids: number[] }[]> {
    const groups = await Promise.all(this.pending.map(async (t) => ({ data: (await t.data()) as Float32Array, vocab: t.shape[1] })));
    tf.dispose(this.pending);
    this.pending = [];
    const rowLogits = groups.flatMap(({ data, vocab }) => Array.from({ length: data.length / vocab }, (_, i) => data.subarray(i * vocab, (i + 1) * vocab)));
    const finished: { row: MixedGenerateRow; ids: number[] }[] = [];
    const keep: number[] = [];
    this.live.forEach((r, b) => {
      if (r.maxNew > 0) {
        const id = pickToken(rowLogits[b], r.row.options, r.rng);
        r.out.push(id);
        if (!(r.stop.has(id) || r.out.length >= r.maxNew || r.row.stopWhen?.(r.out))) return void keep.push(b);
      }
      finished.push({ row: r.row, ids: r.out });
    });
    const cache = this.cache as KVCache;
    if (keep.length === 0) {
      disposeCache(cache);
      this.cache = null;
      this.live = [];
      return finished;
    }
    const live = keep.map((b) => this.live[b]);
    // Columns no remaining row uses (rows that left) are cut from the front.
    const mask0 = keep.map((b) => cache.mask[b]);
    let from = 0;
    while (mask0.every((m) => m[from] === 0)) from++;
    const { logits, next } = tidy(() => {
      const idx = tf.tensor1d(keep, 'int32');
      const cut = (t: tf.Tensor4D) => {
        const rows = keep.length === this.live.length ? t : (tf.gather(t, idx, 0) as tf.Tensor4D);
        return from ? (tf.slice(rows, [0, 0, from, 0], [-1, -1, -1, -1]) as tf.Tensor4D) : rows;
      };
      const mask = mask0.map((m) => [...m.slice(from), 1]);
      const prev: KVCache = { keys: cache.keys.map(cut), values: cache.values.map(cut), mask: mask0.map((m) => m.slice(from)), length: cache.length - from };
      const embeds = this.model.embed(live.map((r) => [r.out[r.out.length - 1]]));
      const { hidden, cache: c } = this.model.forward(embeds, mask, { cache: prev, useCache: true, positions: live.map((r) => [r.count]) });
      const [B, , H] = hidden.shape;
      return { logits: this.model.logits(tf.reshape(hidden, [B, H]) as tf.Tensor2D), next: c as KVCache };
    });
    disposeCache(cache);
    for (const r of live) r.count++;
    this.cache = next;
    this.live = live;
    this.pending = [logits];
    return finished;
  }

  dispose(): void {
    tf.dispose(this.pending);
    this.pending = [];
    disposeCache(this.cache ?? undefined);
    this.cache = null;
    this.live = [];
  }
}

/**
 * New ids per row, decoded together: each row with its own prompt, options (greedy or sampled,
 * seed, max tokens, stop ids) and stop test, and the same ids it would get alone (generate.ts).
 */
export async function mixedGenerate(model: CausalLM, rows: MixedGenerateRow[]): Promise<number[][]> {
  const batch = new DecodeBatch(model);
  const out = new Map<MixedGenerateRow, number[]>();
  try {
    batch.add(rows);
    while (batch.size) for (const f of await batch.step()) out.set(f.row, f.ids);
    return rows.map((r) => out.get(r) as number[]);
  } finally {
    batch.dispose();
  }
}
