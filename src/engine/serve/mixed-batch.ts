// Mixed-adapter batches: one forward pass over rows that each carry their own adapter, of any
// method, or none. PEFT cannot do this for prompt learning (its prompt-learning models take one
// adapter per batch), so the layout is PEFT's for each row alone:
//   - a soft prompt (prompt tuning, P-tuning's saved prompt_embeddings) of V_b rows: row b is
//     [prompt_b, tokens_b, padding] (right padded), its mask V_b + L_b ones then zeros;
//   - a prefix of P_b keys/values per layer: the batch's past holds [prefix_b, padding] per row
//     (P_b ones then zeros in the mask), and row b's positions start at P_b, as alone;
//   - LoRA factors: applied to that row's positions only (ForwardOptions.mixedLora, as PEFT's
//     adapter_names mixed batches).
// Positions run from P_b as when the row runs alone; padding sits after every real position and is
// masked, so no real position sees it. Decoding then feeds one token per row at that row's own
// position (ForwardOptions.positions), the cache keeping the padding holes masked.
import * as tf from '@tensorflow/tfjs-core';
import { pickToken, type GenerateOptions } from '../generate.ts';
import type { Injection } from '../methods/method.ts';
import { disposeCache, type CausalLM, type ForwardOptions, type KVCache, type MixedLora } from '../models/model.ts';
import { injectionOf, type Tuned } from '../prompt/prompted.ts';
import { Rng } from '../random.ts';
import { tidy } from '../tidy.ts';

export interface MixedRow {
  /** The row's adapter: a soft prompt [V, H], any method's injection, or null for the base model. */
  prompt: Tuned;
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

/** Per row: its prefix length P_b and V_b + L_b (the positions it feeds), after checking every row fits the model. */
export function rowSpans(model: CausalLM, rows: MixedRow[]): { prefix: number[]; lengths: number[] } {
  if (rows.length === 0) throw new MixedBatchError('a mixed batch needs at least one row');
  const { hiddenSize, vocabSize, contextLength, numLayers } = model.config;
  const prefix: number[] = [];
  const lengths = rows.map((r, b) => {
    const inj = injectionOf(r.prompt);
    const V = inj.prompt ? inj.prompt.shape[0] : 0;
    const P = inj.prefix ? inj.prefix.keys[0].shape[2] : 0;
    if (inj.prompt && (inj.prompt.rank !== 2 || inj.prompt.shape[1] !== hiddenSize))
      throw new MixedBatchError(`row ${b}: soft prompt is ${JSON.stringify(inj.prompt.shape)}, the model needs [V, ${hiddenSize}]`);
    if (inj.prefix && inj.prefix.keys.length !== numLayers) throw new MixedBatchError(`row ${b}: a prefix for ${inj.prefix.keys.length} layers, the model has ${numLayers}`);
    if (inj.lora && inj.lora.length !== numLayers) throw new MixedBatchError(`row ${b}: LoRA factors for ${inj.lora.length} layers, the model has ${numLayers}`);
    const bad = r.inputIds.find((id) => !Number.isInteger(id) || id < 0 || id >= vocabSize);
    if (bad !== undefined) throw new MixedBatchError(`row ${b}: token id ${bad} is not in [0, ${vocabSize})`);
    if (V + r.inputIds.length === 0) throw new MixedBatchError(`row ${b}: needs at least one input token or a soft prompt`);
    if (P + V + r.inputIds.length > contextLength) throw new MixedBatchError(`row ${b}: ${r.inputIds.length} tokens + ${P + V} virtual exceed the model's ${contextLength}-token context`);
    prefix.push(P);
    return V + r.inputIds.length;
  });
  return { prefix, lengths };
}

/** The LoRA adapters of a batch's rows, each with the rows it applies to (rows sharing an adapter share one entry). */
export function mixedLora(rows: MixedRow[]): MixedLora[] {
  const groups = new Map<Injection['lora'], number[]>();
  rows.forEach((r, b) => {
    const lora = injectionOf(r.prompt).lora;
    if (lora) groups.set(lora, [...(groups.get(lora) ?? []), b]);
  });
  return [...groups].map(([layers, rowsOf]) => ({ layers: layers!, rows: rowsOf }));
}

/**
 * Right-padded input embeddings [B, S, H], mask [B][Pmax + S] and the forward options (the rows'
 * prefixes as one past, their positions, their LoRA adapters), S the longest V_b + L_b.
 */
export function mixedInputs(model: CausalLM, rows: MixedRow[]): { embeds: tf.Tensor3D; mask: number[][]; lengths: number[]; prefix: number[]; forward: ForwardOptions } {
  const { prefix, lengths } = rowSpans(model, rows);
  const S = Math.max(...lengths);
  const Pmax = Math.max(...prefix);
  const H = model.config.hiddenSize;
  const injections = rows.map((r) => injectionOf(r.prompt));
  const embeds = tidy(() => {
    const parts = rows.map((r, b) => {
      const pieces: tf.Tensor2D[] = [];
      const p = injections[b].prompt;
      if (p) pieces.push(p);
      if (r.inputIds.length) pieces.push(tf.reshape(model.embed([r.inputIds]), [r.inputIds.length, H]) as tf.Tensor2D);
      // Masked positions: what they hold never reaches a real position.
      if (S > lengths[b]) pieces.push(tf.zeros([S - lengths[b], H]));
      return pieces.length === 1 ? pieces[0] : tf.concat(pieces, 0);
    });
    return tf.stack(parts) as tf.Tensor3D;
  });
  const forward: ForwardOptions = {};
  let mask = lengths.map((n) => Array.from({ length: S }, (_, i) => (i < n ? 1 : 0)));
  if (Pmax > 0) {
    // Each row's prefix, zero padded to Pmax (masked), as one past per layer [B, kvHeads, Pmax, hd].
    const { numLayers, numKvHeads, headDim } = model.config;
    const pastOf = (pick: (i: Injection) => tf.Tensor4D[] | undefined, layer: number) =>
      tf.concat(
        injections.map((inj, b) => {
          const t = pick(inj)?.[layer] ?? null;
          const pad = Pmax - prefix[b];
          if (!t) return tf.zeros([1, numKvHeads, Pmax, headDim]);
          return pad
            ? tf.pad(t, [
                [0, 0],
                [0, 0],
                [0, pad],
                [0, 0],
              ])
            : t;
        }),
        0,
      ) as tf.Tensor4D;
    forward.prefix = tidy(() => ({
      keys: Array.from({ length: numLayers }, (_, i) => pastOf((inj) => inj.prefix?.keys, i)),
      values: Array.from({ length: numLayers }, (_, i) => pastOf((inj) => inj.prefix?.values, i)),
    }));
    mask = mask.map((m, b) => [...Array.from({ length: Pmax }, (_, i) => (i < prefix[b] ? 1 : 0)), ...m]);
    forward.positions = lengths.map((_, b) => Array.from({ length: S }, (_, i) => prefix[b] + Math.min(i, lengths[b] - 1)));
  }
  const lora = mixedLora(rows);
  if (lora.length) forward.mixedLora = lora;
  return { embeds, mask, lengths, prefix, forward };
}

/** Logits [B, S, vocab] of the mixed batch; row b's first V_b + L_b positions are its own. */
export function mixedLogits(model: CausalLM, rows: MixedRow[]): { logits: tf.Tensor3D; lengths: number[] } {
  return tidy(() => {
    const { embeds, mask, lengths, forward } = mixedInputs(model, rows);
    const { hidden } = model.forward(embeds, mask, forward);
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
  /** Keys and values of each soft prompt's V positions (see promptPasts), by prompt tensor. */
  private pasts = new Map<tf.Tensor2D, { keys: tf.Tensor4D[]; values: tf.Tensor4D[] }>();

  constructor(private readonly model: CausalLM) {}

  get size(): number {
    return this.live.length;
  }

  /**
   * The rows to prefill, a soft prompt's V positions given as their keys and values (a past, as
   * prefix tuning's) instead of fed again. Causal attention lets those positions see only each
   * other, so they are the same in every row of an adapter: a server computes them once per
   * adapter, not once per request (they were a third of a prefill's positions in the load test).
   * The row's tokens then sit at positions V.., attending to the same keys and values as when
   * the row runs alone. Rows with a prefix or LoRA factors (which change every position) and
   * rows without tokens are fed as they are.
   */
  private promptPasts(rows: MixedGenerateRow[]): MixedGenerateRow[] {
    // A replaced adapter's prompt was disposed by its owner (serve's AdapterRegistry): its past goes too.
    for (const [p, past] of this.pasts) {
      if (!p.isDisposed) continue;
      tf.dispose([...past.keys, ...past.values]);
      this.pasts.delete(p);
    }
    return rows.map((r) => {
      const { prompt, prefix, lora } = injectionOf(r.prompt);
      if (!prompt || prefix || lora || r.inputIds.length === 0) return r;
      let past = this.pasts.get(prompt);
      if (!past) {
        past = tidy(() => {
          const V = prompt.shape[0];
          const { cache } = this.model.forward(tf.expandDims(prompt, 0) as tf.Tensor3D, [new Array<number>(V).fill(1)], { useCache: true });
          return { keys: cache!.keys, values: cache!.values };
        });
        this.pasts.set(prompt, past);
      }
      return { ...r, prompt: { prompt: null, prefix: past, lora: null } };
    });
  }

  /** The rows' prefill pass; a row with no token to generate finishes at the next step. */
  add(rows: MixedGenerateRow[]): void {
    if (rows.length === 0) return;
    const { prefix, lengths } = rowSpans(this.model, rows);
    const limit = this.model.config.contextLength;
    const fed = this.promptPasts(rows);
    const { logits, cache } = tidy(() => {
      const { embeds, mask, forward, lengths: fedLengths } = mixedInputs(this.model, fed);
      const { hidden, cache: c } = this.model.forward(embeds, mask, { ...forward, useCache: true });
      return {
        logits: lastLogits(
          this.model,
          hidden,
          fedLengths.map((n) => n - 1),
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
      const used = prefix[b] + lengths[b];
      const maxNew = Math.max(0, Math.min(row.options.maxNewTokens, limit - used));
      this.live.push({ row, out: [], rng: new Rng(row.options.seed ?? 0), stop: new Set(row.options.stopTokenIds ?? []), maxNew, count: used });
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
      const lora = mixedLora(live.map((r) => r.row));
      const { hidden, cache: c } = this.model.forward(embeds, mask, { cache: prev, useCache: true, positions: live.map((r) => [r.count]), ...(lora.length ? { mixedLora: lora } : {}) });
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
    for (const past of this.pasts.values()) tf.dispose([...past.keys, ...past.values]);
    this.pasts.clear();
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
