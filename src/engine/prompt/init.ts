// Soft-prompt initialisation with PEFT's rules (PromptEmbedding.__init__).
import type { CausalLM } from '../models/model.ts';
import { Rng } from '../random.ts';
import type { TextTokenizer } from '../tokenizer.ts';

export const INIT_KINDS = ['TEXT', 'SAMPLE_VOCAB', 'RANDOM'] as const;
export type InitKind = (typeof INIT_KINDS)[number];

export interface PromptInit {
  kind: InitKind;
  numVirtualTokens: number;
  /** Required for TEXT. */
  text?: string | null;
  /** Seeds SAMPLE_VOCAB and RANDOM. */
  seed?: number;
}

export interface SoftPrompt {
  numVirtualTokens: number;
  hiddenSize: number;
  /** Row-major [V, H]. */
  values: Float32Array;
  /** The vocabulary rows the prompt started from (TEXT, SAMPLE_VOCAB). */
  initIds: number[] | null;
}

export class PromptInitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PromptInitError';
  }
}

export function parseInitKind(value: string): InitKind {
  const v = value
    .trim()
    .toUpperCase()
    .replace(/^PROMPTTUNINGINIT\./, '');
  if ((INIT_KINDS as readonly string[]).includes(v)) return v as InitKind;
  throw new PromptInitError(`init "${value}" is not one of ${INIT_KINDS.join(', ')}`);
}

/** TEXT init ids: the tokenized text, cut to V if longer, repeated then cut if shorter. */
export function textInitIds(tokenizer: TextTokenizer, text: string, numVirtualTokens: number): number[] {
  const ids = tokenizer.encode(text);
  if (ids.length === 0) throw new PromptInitError('init text tokenizes to no tokens; TEXT init needs a non-empty phrase');
  const reps = Math.ceil(numVirtualTokens / ids.length);
  const repeated: number[] = [];
  for (let r = 0; r < reps; r++) repeated.push(...ids);
  return repeated.slice(0, numVirtualTokens);
}

/** Embedding rows as the model's input embedding module returns them (scaled where the family scales, Gemma). */
async function embeddingRows(model: CausalLM, ids: number[]): Promise<Float32Array> {
  const rows = await model.embeddings.rowValues(ids);
  const s = model.embedScale;
  // Both factors are float32, so the double product rounded once is torch's float32 product.
  return s === undefined || s === 1 ? rows : rows.map((v) => Math.fround(v * s));
}

export async function initSoftPrompt(model: CausalLM, tokenizer: TextTokenizer, init: PromptInit): Promise<SoftPrompt> {
  const V = init.numVirtualTokens;
  const H = model.config.hiddenSize;
  if (!Number.isInteger(V) || V <= 0) throw new PromptInitError(`num_virtual_tokens must be a positive integer, got ${V}`);
  if (V >= model.config.contextLength) throw new PromptInitError(`num_virtual_tokens ${V} leaves no room in the model's ${model.config.contextLength}-token context`);
  const rng = new Rng(init.seed ?? 0);
  if (init.kind === 'TEXT') {
    if (!init.text) throw new PromptInitError('TEXT init needs an init text (prompt_tuning_init_text)');
    const ids = textInitIds(tokenizer, init.text, V);
    return { numVirtualTokens: V, hiddenSize: H, values: await embeddingRows(model, ids), initIds: ids };
  }
  if (init.kind === 'SAMPLE_VOCAB') {
    const rows = model.embeddings.rows;
    const ids = Array.from({ length: V }, () => rng.int(rows));
    return { numVirtualTokens: V, hiddenSize: H, values: await embeddingRows(model, ids), initIds: ids };
  }
  const values = new Float32Array(V * H);
  for (let i = 0; i < values.length; i++) values[i] = rng.normal();
  return { numVirtualTokens: V, hiddenSize: H, values, initIds: null };
}
