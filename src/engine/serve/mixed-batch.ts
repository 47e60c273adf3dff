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
// masked, so no real position sees it (mixedLogits: one padded pass). Decoding (DecodeBatch) packs
// the rows instead, as sequences of one row (ForwardOptions.segments), so that rows joining a
// running batch are prefilled in the pass that decodes the others, with no padding.
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

interface LiveRow {
  row: MixedGenerateRow;
  out: number[];
  rng: Rng;
  stop: Set<number>;
  maxNew: number;
  /** Real positions so far (the next token's position id). */
  count: number;
  /** The row's sequence in the packed batch: the tag of its cache columns and new positions. */
  seq: number;
  /** Until its first pass: what it feeds (embeddings [n, H] or token ids) after a past of keys and values. */
  joining: { past: { keys: tf.Tensor4D[]; values: tf.Tensor4D[] } | null; prompt: tf.Tensor2D | null; ids: number[] } | null;
}

/**
 * A decoding batch that rows join and leave between steps (continuous batching), packed: every
 * row is a sequence of the batch's one row (ForwardOptions.segments), so one pass feeds each
 * running row its next token and each joining row its whole input, every row at its own
 * positions, and no row pays for another's length. A joining row's past (a prefix, or its soft
 * prompt's keys and values) is appended to the cache as its first columns; a row that leaves
 * leaves masked columns, cut out once they are half the cache. Each row gets exactly the ids it
 * would get alone (generate.ts).
 */
export class DecodeBatch {
  private live: LiveRow[] = [];
  /** Keys and values [1, kvHeads, S, headDim] per layer, their mask [1][S], and each column's sequence. */
  private cache: KVCache | null = null;
  private columns: number[] = [];
  /** Next-token logits [n, vocab] of the rows the last pass fed, in `fed` order. */
  private pending: tf.Tensor2D | null = null;
  private fed: LiveRow[] = [];
  private nextSeq = 0;
  /** Keys and values of each soft prompt's V positions (see joinWith), by prompt tensor. */
  private pasts = new Map<tf.Tensor2D, { keys: tf.Tensor4D[]; values: tf.Tensor4D[] }>();

  constructor(private readonly model: CausalLM) {}

  get size(): number {
    return this.live.length;
  }

  /**
   * The past a row joins with, and what it then feeds. A soft prompt's V positions are given as
   * their keys and values (a past, as prefix tuning's) instead of fed again: causal attention lets
   * those positions see only each other, so they are the same in every row of an adapter, and a
   * server computes them once per adapter, not once per request (they were a third of a prefill's
   * positions in the load test). The row's tokens then sit at positions V.., attending to the same
   * keys and values as when the row runs alone. Rows with LoRA factors (which change every
   * position) and rows without tokens feed their prompt as it is.
   */
  private joinWith(r: MixedGenerateRow): NonNullable<LiveRow['joining']> {
    const { prompt, prefix, lora } = injectionOf(r.prompt);
    if (!prompt || prefix || lora || r.inputIds.length === 0) return { past: prefix ?? null, prompt, ids: r.inputIds };
    let past = this.pasts.get(prompt);
    if (!past) {
      past = tidy(() => {
        const V = prompt.shape[0];
        const { cache } = this.model.forward(tf.expandDims(prompt, 0) as tf.Tensor3D, [new Array<number>(V).fill(1)], { useCache: true });
        return { keys: cache!.keys, values: cache!.values };
      });
      this.pasts.set(prompt, past);
    }
    return { past, prompt: null, ids: r.inputIds };
  }

  /** Queues the rows: they are checked now and fed in the next step's pass. */
  add(rows: MixedGenerateRow[]): void {
    if (rows.length === 0) return;
    const { prefix, lengths } = rowSpans(this.model, rows);
    // A replaced adapter's prompt was disposed by its owner (serve's AdapterRegistry): its past goes too.
    for (const [p, past] of this.pasts) {
      if (!p.isDisposed) continue;
      tf.dispose([...past.keys, ...past.values]);
      this.pasts.delete(p);
    }
    const limit = this.model.config.contextLength;
    rows.forEach((row, b) => {
      const used = prefix[b] + lengths[b];
      const maxNew = Math.max(0, Math.min(row.options.maxNewTokens, limit - used));
      this.live.push({ row, out: [], rng: new Rng(row.options.seed ?? 0), stop: new Set(row.options.stopTokenIds ?? []), maxNew, count: used, seq: this.nextSeq++, joining: this.joinWith(row) });
    });
  }

  /** Picks the next token of every row the last pass fed, lets finished rows leave, and runs one pass for the rest and the rows that joined. */
  async step(): Promise<{ row: MixedGenerateRow; ids: number[] }[]> {
    const finished: { row: MixedGenerateRow; ids: number[] }[] = [];
    const done = new Set<LiveRow>();
    if (this.pending) {
      const vocab = this.pending.shape[1];
      const data = (await this.pending.data()) as Float32Array;
      tf.dispose(this.pending);
      this.pending = null;
      this.fed.forEach((r, i) => {
        const id = pickToken(data.subarray(i * vocab, (i + 1) * vocab), r.row.options, r.rng);
        r.out.push(id);
        if (r.stop.has(id) || r.out.length >= r.maxNew || r.row.stopWhen?.(r.out)) done.add(r);
      });
    }
    // A row with no token to generate leaves without a pass.
    for (const r of this.live) if (r.maxNew === 0) done.add(r);
    for (const r of done) finished.push({ row: r.row, ids: r.out });
    this.live = this.live.filter((r) => !done.has(r));
    this.fed = [];
    if (this.live.length === 0) {
      disposeCache(this.cache ?? undefined);
      this.cache = null;
      this.columns = [];
      return finished;
    }
    this.dropColumns();
    const { logits, cache } = tidy(() => this.pass());
    disposeCache(this.cache ?? undefined);
    this.cache = cache;
    this.pending = logits;
    return finished;
  }

  /** Masks the columns of rows that left; once they are half the cache, cuts them out. */
  private dropColumns(): void {
    if (!this.cache) return;
    const seqs = new Set(this.live.map((r) => r.seq));
    const mask = this.cache.mask[0].map((m, j) => (seqs.has(this.columns[j]) ? m : 0));
    const keep = this.columns.flatMap((s, j) => (seqs.has(s) ? [j] : []));
    if (keep.length === 0) {
      disposeCache(this.cache);
      this.cache = null;
      this.columns = [];
      return;
    }
    if (keep.length * 2 > this.columns.length) {
      this.cache = { ...this.cache, mask: [mask] };
      return;
    }
    const old = this.cache;
    this.cache = tidy(() => {
      const idx = tf.tensor1d(keep, 'int32');
      const cut = (t: tf.Tensor4D) => tf.gather(t, idx, 2) as tf.Tensor4D;
      return { keys: old.keys.map(cut), values: old.values.map(cut), mask: [keep.map((j) => mask[j])], length: keep.length };
    });
    this.columns = keep.map((j) => this.columns[j]);
    disposeCache(old);
  }

  /**
   * One pass: running rows feed their last token, joining rows their input after their past.
   * Returns the logits at each fed row's last new position and the cache with this pass's keys.
   */
  private pass(): { logits: tf.Tensor2D; cache: KVCache } {
    const { numLayers, hiddenSize: H } = this.model.config;
    const running = this.live.filter((r) => !r.joining);
    const joining = this.live.filter((r) => r.joining);
    // The cache, with the joining rows' pasts appended: [1, kvHeads, S, headDim] per layer.
    let cache = this.cache;
    let columns = this.columns;
    const withPast = joining.filter((r) => r.joining!.past);
    if (withPast.length) {
      const pasts = withPast.map((r) => r.joining!.past!);
      const layer = (t: (p: { keys: tf.Tensor4D[]; values: tf.Tensor4D[] }) => tf.Tensor4D) => tf.concat([...(cache ? [t(cache)] : []), ...pasts.map(t)], 2) as tf.Tensor4D;
      const lengths = pasts.map((p) => p.keys[0].shape[2]);
      const mask = [...(cache?.mask[0] ?? []), ...lengths.flatMap((n) => new Array<number>(n).fill(1))];
      cache = {
        keys: Array.from({ length: numLayers }, (_, i) => layer((p) => p.keys[i])),
        values: Array.from({ length: numLayers }, (_, i) => layer((p) => p.values[i])),
        mask: [mask],
        length: mask.length,
      };
      columns = [...columns, ...withPast.flatMap((r, k) => new Array<number>(lengths[k]).fill(r.seq))];
    }
    // New positions: one per running row, then each joining row's prompt and tokens. Each fed
    // row's span of them (for its LoRA factors) and its last one (for its logits).
    const pieces: tf.Tensor2D[] = [];
    const query: number[] = [];
    const positions: number[] = [];
    const spans: { row: LiveRow; from: number; to: number }[] = [];
    if (running.length) pieces.push(tf.reshape(this.model.embed([running.map((r) => r.out[r.out.length - 1])]), [running.length, H]) as tf.Tensor2D);
    for (const r of running) {
      spans.push({ row: r, from: query.length, to: query.length + 1 });
      query.push(r.seq);
      positions.push(r.count++);
    }
    for (const r of joining) {
      const { past, prompt, ids } = r.joining!;
      if (prompt) pieces.push(prompt);
      if (ids.length) pieces.push(tf.reshape(this.model.embed([ids]), [ids.length, H]) as tf.Tensor2D);
      const n = (prompt ? prompt.shape[0] : 0) + ids.length;
      const start = past ? past.keys[0].shape[2] : 0;
      spans.push({ row: r, from: query.length, to: query.length + n });
      for (let i = 0; i < n; i++) {
        query.push(r.seq);
        positions.push(start + i);
      }
      r.joining = null;
    }
    const T = query.length;
    const embeds = tf.reshape(pieces.length === 1 ? pieces[0] : tf.concat(pieces, 0), [1, T, H]) as tf.Tensor3D;
    const segments = { query, key: [...columns, ...query] };
    const mask = [[...(cache?.mask[0] ?? []), ...new Array<number>(T).fill(1)]];
    // LoRA adapters apply to their own rows' new positions.
    const loraTokens = new Map<NonNullable<Injection['lora']>, number[]>();
    for (const { row, from, to } of spans) {
      const lora = injectionOf(row.row.prompt).lora;
      if (lora) loraTokens.set(lora, [...(loraTokens.get(lora) ?? []), ...Array.from({ length: to - from }, (_, k) => from + k)]);
    }
    const mixed: MixedLora[] = [...loraTokens].map(([layers, tokens]) => ({ layers, rows: [], tokens }));
    const forward: ForwardOptions = { useCache: true, positions: [positions], segments, ...(cache ? { cache } : {}), ...(mixed.length ? { mixedLora: mixed } : {}) };
    const { hidden, cache: next } = this.model.forward(embeds, mask, forward);
    this.fed = spans.map((s) => s.row);
    this.columns = segments.key;
    const picked = tf.gather(
      tf.reshape(hidden, [T, H]),
      tf.tensor1d(
        spans.map((s) => s.to - 1),
        'int32',
      ),
    ) as tf.Tensor2D;
    return { logits: this.model.logits(picked), cache: next as KVCache };
  }

  dispose(): void {
    for (const past of this.pasts.values()) tf.dispose([...past.keys, ...past.values]);
    this.pasts.clear();
    tf.dispose(this.pending ?? []);
    this.pending = null;
    disposeCache(this.cache ?? undefined);
    this.cache = null;
    this.columns = [];
    this.live = [];
    this.fed = [];
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
