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
    if (r.prompt && (r.prompt.rank !== 2 || r.prompt.shape[1] !== hiddenSize)) throw new MixedBatchError(`row ${b}: soft prompt is ${JSON.stringify(r.prompt.shape)}, the model needs [V, ${hiddenSize}]`);
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
  const picked = tf.gather(tf.reshape(hidden, [B * S, H]), tf.tensor1d(last.map((t, b) => b * S + t), 'int32')) as tf.Tensor2D;
  return model.logits(picked);
}

/**
 * New ids per row, decoded together: each row with its own prompt, options (greedy or sampled,
 * seed, max tokens, stop ids) and stop test, and the same ids it would get alone (generate.ts).
 */
export async function mixedGenerate(model: CausalLM, rows: MixedGenerateRow[]): Promise<number[][]> {
  const lengths = rowLengths(model, rows);
  const limit = model.config.contextLength;
  const maxNew = rows.map((r, b) => Math.max(0, Math.min(r.options.maxNewTokens, limit - lengths[b])));
  const rngs = rows.map((r) => new Rng(r.options.seed ?? 0));
  const stops = rows.map((r) => new Set(r.options.stopTokenIds ?? []));
  const out: number[][] = rows.map(() => []);
  const active = maxNew.map((n) => n > 0);
  if (!active.some(Boolean)) return out;
  const counts = [...lengths];
  let cache: KVCache | undefined;
  try {
    let step = tidy(() => {
      const { embeds, mask } = mixedInputs(model, rows);
      const { hidden, cache: c } = model.forward(embeds, mask, { useCache: true });
      return { logits: lastLogits(model, hidden, lengths.map((n) => n - 1)), cache: c as KVCache };
    });
    for (;;) {
      const all = (await step.logits.data()) as Float32Array;
      const vocab = step.logits.shape[1];
      step.logits.dispose();
      cache = step.cache;
      const next = rows.map((r, b) => {
        if (!active[b]) return null;
        const id = pickToken(all.subarray(b * vocab, (b + 1) * vocab), r.options, rngs[b]);
        out[b].push(id);
        if (stops[b].has(id) || out[b].length >= maxNew[b] || r.stopWhen?.(out[b])) active[b] = false;
        return id;
      });
      if (!active.some(Boolean)) break;
      const prev: KVCache = cache;
      // A row that has finished keeps its slot (shapes stay fixed) but feeds a masked token.
      const feed = next.map((id, b) => (active[b] ? (id as number) : 0));
      const positions = counts.map((n) => [Math.min(n, limit - 1)]);
      const mask = prev.mask.map((m, b) => [...m, active[b] ? 1 : 0]);
      active.forEach((on, b) => on && counts[b]++);
      step = tidy(() => {
        const { hidden, cache: c } = model.forward(model.embed(feed.map((id) => [id])), mask, { cache: prev, useCache: true, positions });
        const [B, , H] = hidden.shape;
        return { logits: model.logits(tf.reshape(hidden, [B, H]) as tf.Tensor2D), cache: c as KVCache };
      });
      disposeCache(prev);
      cache = undefined;
    }
    return out;
  } finally {
    disposeCache(cache);
  }
}
