// Decoding with a tuning method's injection (PEFT's generate): the soft prompt (or the prefix, as
// the first past keys/values) and the input go through the model once, then one token at a time
// with a KV cache; LoRA factors apply at every step.
import * as tf from '@tensorflow/tfjs-core';
import { disposeCache, type KVCache } from './models/model.ts';
import type { CausalLM } from './models/model.ts';
import { contextTokensOf, injectionOf, promptedInputs, type Tuned } from './prompt/prompted.ts';
import { tidy } from './tidy.ts';
import { Rng } from './random.ts';

export interface GenerateOptions {
  maxNewTokens: number;
  /** Argmax decoding; otherwise sampling with temperature / top-k / top-p. */
  greedy: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
  /** Decoding stops after any of these ids (the id is included in the output). */
  stopTokenIds?: number[];
}

/** Picks the next id from one row of logits. */
export function pickToken(logits: Float32Array, options: GenerateOptions, rng: Rng): number {
  if (options.greedy) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    return best;
  }
  const t = options.temperature ?? 1;
  let ids = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a]);
  if (options.topK && options.topK > 0) ids = ids.slice(0, options.topK);
  const max = logits[ids[0]];
  let probs = ids.map((i) => Math.exp((logits[i] - max) / t));
  let total = probs.reduce((a, b) => a + b, 0);
  if (options.topP !== undefined && options.topP < 1) {
    let cum = 0;
    let keep = 0;
    while (keep < probs.length && cum < options.topP * total) cum += probs[keep++];
    ids = ids.slice(0, Math.max(1, keep));
    probs = probs.slice(0, Math.max(1, keep));
    total = probs.reduce((a, b) => a + b, 0);
  }
  let r = rng.next() * total;
  for (let i = 0; i < ids.length; i++) {
    r -= probs[i];
    if (r <= 0) return ids[i];
  }
  return ids[ids.length - 1];
}

/** New token ids generated after `inputIds` (batch of one, no padding). */
export async function generate(model: CausalLM, tuned: Tuned, inputIds: number[], options: GenerateOptions): Promise<number[]> {
  const { prompt, lora } = injectionOf(tuned);
  if (inputIds.length === 0 && !prompt) throw new Error('generate needs at least one input token or a soft prompt');
  // Virtual tokens and a prefix both take positions of the context.
  const V = contextTokensOf(tuned);
  const room = model.config.contextLength - V - inputIds.length;
  if (room <= 0) throw new Error(`input of ${inputIds.length} tokens (+${V} virtual) fills the ${model.config.contextLength}-token context`);
  const maxNew = Math.min(options.maxNewTokens, room);
  const rng = new Rng(options.seed ?? 0);
  const stop = new Set(options.stopTokenIds ?? []);
  const out: number[] = [];
  let cache: KVCache | undefined;
  try {
    let step = tidy(() => {
      const ids = inputIds.length ? [inputIds] : [[]];
      // The first pass runs the prompt (or the prefix, as past keys) with the input and returns the cache.
      const { embeds, mask, forward } = inputIds.length
        ? promptedInputs(model, tuned, ids, [inputIds.map(() => 1)], { useCache: true })
        : { embeds: tf.expandDims(prompt as tf.Tensor2D, 0) as tf.Tensor3D, mask: [new Array<number>(V).fill(1)], forward: { useCache: true, lora: lora ?? undefined } };
      const { hidden, cache: c } = model.forward(embeds, mask, forward);
      const S = hidden.shape[1];
      const last = tf.reshape(tf.slice(hidden, [0, S - 1, 0], [1, 1, -1]), [1, -1]) as tf.Tensor2D;
      return { logits: model.logits(last), cache: c as KVCache };
    });
    for (let i = 0; i < maxNew; i++) {
      const row = (await step.logits.data()) as Float32Array;
      step.logits.dispose();
      cache = step.cache;
      const next = pickToken(row, options, rng);
      out.push(next);
      if (stop.has(next) || i === maxNew - 1) break;
      const prev: KVCache = cache;
      step = tidy(() => {
        const embeds = model.embed([[next]]);
        const mask = [[...prev.mask[0], 1]];
        const { hidden, cache: c } = model.forward(embeds, mask, { cache: prev, useCache: true, lora: lora ?? undefined });
        return { logits: model.logits(tf.reshape(hidden, [1, -1]) as tf.Tensor2D), cache: c as KVCache };
      });
      disposeCache(prev);
      cache = undefined;
    }
    return out;
  } finally {
    disposeCache(cache);
  }
}
