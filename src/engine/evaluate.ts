// Held-out loss, and label accuracy by generating the label and comparing it with the gold one.
import * as tf from '@tensorflow/tfjs-core';
import type { Example } from './data/examples.ts';
import { normalizeLabel } from './data/labels.ts';
import { generate } from './generate.ts';
import type { CausalLM } from './models/model.ts';
import { IGNORE_INDEX, type Batch } from './prompt/batch.ts';
import { prependedTokens, promptLoss, type Tuned } from './prompt/prompted.ts';
import type { TextTokenizer } from './tokenizer.ts';

/** Token-weighted mean loss over batches (the same as one loss over their union). */
export async function evaluateLoss(model: CausalLM, tuned: Tuned, batches: Batch[]): Promise<number> {
  // A row's first label is predicted only when rows are prepended (by the last virtual token).
  const skip = prependedTokens(tuned) > 0 ? 0 : 1;
  let total = 0;
  let count = 0;
  for (const batch of batches) {
    const n = batch.labels.reduce((a, row) => a + row.slice(skip).filter((l) => l !== IGNORE_INDEX).length, 0);
    if (n === 0) continue;
    const loss = tf.tidy(() => promptLoss(model, tuned, batch));
    total += (await loss.data())[0] * n;
    loss.dispose();
    count += n;
  }
  return count ? total / count : NaN;
}

export interface LabelScore {
  correct: number;
  total: number;
  accuracy: number;
}

export interface LabelEvaluation {
  accuracy: number;
  perLabel: Record<string, LabelScore>;
  predictions: { input: string; gold: string; predicted: string }[];
}

/**
 * Greedy-decodes each example's label after its templated input (optionally preceded by a plain
 * text prefix, for the "init text as a text prompt" baseline) and scores exact matches.
 */
export async function evaluateLabels(
  model: CausalLM,
  tokenizer: TextTokenizer,
  tuned: Tuned,
  examples: Example[],
  eosTokenId: number,
  options: { textPrefix?: string; onProgress?: (done: number, total: number) => void } = {},
): Promise<LabelEvaluation> {
  const maxLabelTokens = Math.max(...examples.map((e) => tokenizer.encode(e.target, false).length));
  const perLabel: Record<string, LabelScore> = {};
  const predictions: LabelEvaluation['predictions'] = [];
  let correct = 0;
  for (const [i, ex] of examples.entries()) {
    const input = options.textPrefix ? `${options.textPrefix} ${ex.input}` : ex.input;
    const ids = await generate(model, tuned, tokenizer.encode(input), { maxNewTokens: maxLabelTokens + 1, greedy: true, stopTokenIds: [eosTokenId] });
    const predicted = tokenizer.decode(ids.filter((id) => id !== eosTokenId)).trim();
    const ok = normalizeLabel(predicted) === normalizeLabel(ex.target);
    const key = ex.target.trim();
    perLabel[key] ??= { correct: 0, total: 0, accuracy: 0 };
    perLabel[key].total += 1;
    if (ok) {
      perLabel[key].correct += 1;
      correct += 1;
    }
    predictions.push({ input: ex.input, gold: ex.target, predicted });
    options.onProgress?.(i + 1, examples.length);
  }
  for (const s of Object.values(perLabel)) s.accuracy = s.correct / s.total;
  return { accuracy: examples.length ? correct / examples.length : NaN, perLabel, predictions };
}
