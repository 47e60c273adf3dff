// Making a soft prompt less of a black box: for each virtual token, the vocabulary tokens whose
// embeddings point the same way (cosine), its norm, and how far training moved it from its init.
import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM } from './models/model.ts';
import type { TextTokenizer } from './tokenizer.ts';

export interface NearestToken {
  id: number;
  piece: string;
  cosine: number;
}

export interface VirtualTokenInspection {
  index: number;
  norm: number;
  /** The vocabulary token this row started as (TEXT / SAMPLE_VOCAB init). */
  initToken: { id: number; piece: string } | null;
  initNorm: number | null;
  /** L2 distance from the init row. */
  drift: number | null;
  /** Cosine similarity to the init row. */
  cosineToInit: number | null;
  nearest: NearestToken[];
}

export interface EmbeddingScale {
  mean: number;
  min: number;
  max: number;
}

export interface InspectResult {
  tokens: VirtualTokenInspection[];
  embedding: EmbeddingScale;
}

/** Rows of the embedding matrix that are real tokens (some models pad the matrix). */
function vocabRows(model: CausalLM, tokenizer: TextTokenizer): number {
  return Math.min(model.embeddings.rows, Math.max(1, tokenizer.vocabSize));
}

/** L2 norm of every embedding row, over the table's chunks, cut to the first n rows. */
function rowNorms(model: CausalLM, n: number): tf.Tensor1D {
  return tf.slice(model.embeddings.rowNorms(), [0], [n]) as tf.Tensor1D;
}

/** Mean, min and max L2 norm of the token embedding rows. */
export async function embeddingScale(model: CausalLM, tokenizer: TextTokenizer): Promise<EmbeddingScale> {
  const n = vocabRows(model, tokenizer);
  const norms = tf.tidy(() => rowNorms(model, n));
  const values = (await norms.data()) as Float32Array;
  norms.dispose();
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { mean: sum / values.length, min, max };
}

function rowNorm(values: Float32Array, row: number, H: number): number {
  let s = 0;
  for (let j = 0; j < H; j++) s += values[row * H + j] ** 2;
  return Math.sqrt(s);
}

export async function inspectPrompt(model: CausalLM, tokenizer: TextTokenizer, prompt: Float32Array, init: { values: Float32Array | null; ids: number[] | null }, k = 5): Promise<InspectResult> {
  const H = model.config.hiddenSize;
  const V = prompt.length / H;
  if (!Number.isInteger(V)) throw new Error(`soft prompt of ${prompt.length} values is not a multiple of hidden size ${H}`);
  const n = vocabRows(model, tokenizer);
  const topK = Math.min(k, n);
  const { values, indices } = tf.tidy(() => {
    const P = tf.tensor2d(prompt, [V, H]);
    const Pn = tf.div(P, tf.add(tf.norm(P, 'euclidean', 1, true), 1e-12));
    // Cosine against every vocabulary row: the products with the rows, over the rows' norms.
    const sims = tf.div(model.embeddings.scores(Pn as tf.Tensor2D), tf.add(model.embeddings.rowNorms(), 1e-12));
    return tf.topk(tf.slice(sims, [0, 0], [V, n]), topK);
  });
  const [sims, ids] = await Promise.all([values.data(), indices.data()]);
  values.dispose();
  indices.dispose();
  const tokens: VirtualTokenInspection[] = [];
  for (let v = 0; v < V; v++) {
    const norm = rowNorm(prompt, v, H);
    let drift: number | null = null;
    let cosineToInit: number | null = null;
    let initNorm: number | null = null;
    if (init.values && init.values.length === prompt.length) {
      let d = 0;
      let dot = 0;
      for (let j = 0; j < H; j++) {
        const a = prompt[v * H + j];
        const b = init.values[v * H + j];
        d += (a - b) ** 2;
        dot += a * b;
      }
      initNorm = rowNorm(init.values, v, H);
      drift = Math.sqrt(d);
      cosineToInit = dot / Math.max(norm * initNorm, 1e-12);
    }
    const initId = init.ids?.[v];
    tokens.push({
      index: v,
      norm,
      initToken: initId === undefined ? null : { id: initId, piece: tokenizer.token(initId) },
      initNorm,
      drift,
      cosineToInit,
      nearest: Array.from({ length: topK }, (_, i) => {
        const id = ids[v * topK + i];
        return { id, piece: tokenizer.token(id), cosine: sims[v * topK + i] };
      }),
    });
  }
  return { tokens, embedding: await embeddingScale(model, tokenizer) };
}
