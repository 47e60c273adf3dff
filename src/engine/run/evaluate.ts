// Evaluating one condition (no prompt, a plain text prompt, or an adapter of any method) on a set of
// examples: held-out loss and, for a label task, the accuracy of the greedily decoded label. The
// worker's Evaluate panel and the CLI's eval both call this; splitRows picks a run's stored rows.
import { sequentialBatches } from '../data/batches.ts';
import { encodeExample } from '../data/encode.ts';
import { toExamples, type ColumnMapping, type Example } from '../data/examples.ts';
import type { Row } from '../data/parse.ts';
import { exampleBudget } from '../data/training-set.ts';
import { evaluateLabels, evaluateLoss, type LabelEvaluation } from '../evaluate.ts';
import type { LoadedModel } from '../load.ts';
import type { RunSplit } from './spec.ts';
import { contextTokensOf, type Tuned } from '../prompt/prompted.ts';
import type { Suite, SuiteScore } from './suite.ts';

export interface ConditionOptions {
  /** Plain text put before each input (the "init text as a text prompt" baseline). */
  textPrefix?: string;
  /** Score the generated label too (label tasks). */
  labelTask: boolean;
  batchSize?: number;
  maxLength?: number | null;
  onProgress?: (done: number, total: number) => void;
}

export interface ConditionScore {
  loss: number;
  /** null when not a label task. */
  labels: LabelEvaluation | null;
  examples: number;
  truncated: number;
}

export async function evaluateCondition(lm: LoadedModel, prompt: Tuned, examples: Example[], o: ConditionOptions): Promise<ConditionScore> {
  if (examples.length === 0) throw new Error('there are no examples to evaluate on');
  const V = contextTokensOf(prompt);
  const budget = exampleBudget(lm.model.config.contextLength, V, o.maxLength ?? null);
  const inputs = o.textPrefix ? examples.map((e) => ({ ...e, input: `${o.textPrefix} ${e.input}` })) : examples;
  const encoded = inputs.map((e) => encodeExample(lm.tokenizer, e, lm.eosTokenId, budget));
  const loss = await evaluateLoss(lm.model, prompt, sequentialBatches(encoded, o.batchSize ?? 8, lm.padTokenId));
  const labels = o.labelTask ? await evaluateLabels(lm.model, lm.tokenizer, prompt, examples, lm.eosTokenId, { textPrefix: o.textPrefix, onProgress: o.onProgress }) : null;
  return { loss, labels, examples: examples.length, truncated: encoded.filter((e) => e.truncated).length };
}

/** Scores one adapter (or none) on a suite: accuracy of the greedy label, per label, and the loss. */
export async function scoreSuite(lm: LoadedModel, tuned: Tuned, suite: Suite, onProgress?: (done: number, total: number) => void): Promise<SuiteScore> {
  const s = await evaluateCondition(lm, tuned, suite.examples, { labelTask: true, onProgress });
  const labels = s.labels as NonNullable<typeof s.labels>;
  return { suiteHash: suite.hash, accuracy: labels.accuracy, perLabel: labels.perLabel, loss: s.loss, count: s.examples, at: Date.now() };
}

/** The first `limit` examples (all of them when the limit is null or 0): the rows a limited evaluation scores. */
export function firstExamples(examples: Example[], limit: number | null): Example[] {
  return limit ? examples.slice(0, limit) : examples;
}

/** Which of a run's held-out rows to score: its test rows when the dataset has them, else its validation rows. */
export type SplitPart = 'test' | 'validation';

export interface SplitRows {
  part: SplitPart;
  /** Indices into the dataset's rows (validation) or test rows (test). */
  ids: number[];
  examples: Example[];
}

/** The examples of a stored split's part, checked against the dataset they were made for. */
export function splitRows(
  split: RunSplit,
  dataset: { hash: string; rows: Row[]; testRows: Row[] | null },
  mapping: ColumnMapping,
  name: string,
  part: SplitPart = split.test.length ? 'test' : 'validation',
): SplitRows {
  if (split.datasetHash !== dataset.hash) throw new Error(`the run's split was made for dataset ${split.datasetHash}, but dataset ${dataset.hash} was given`);
  const ids = part === 'test' ? split.test : split.validation;
  const source = part === 'test' ? (dataset.testRows ?? []) : dataset.rows;
  for (const i of ids) if (!(i >= 0 && i < source.length)) throw new Error(`the run's ${part} split names row ${i}, but the dataset has ${source.length} ${part === 'test' ? 'test ' : ''}rows`);
  return {
    part,
    ids,
    examples: toExamples(
      ids.map((i) => source[i]),
      mapping,
      `${name} (${part})`,
    ),
  };
}
