import { readFileSync } from 'node:fs';
import { majorityBaseline } from '../../engine/data/labels.ts';
import { UsageError } from '../args.ts';
import { evaluateCondition, firstExamples, splitRows, type SplitPart } from '../../engine/run/evaluate.ts';
import { datasetHash } from '../../engine/data/hash.ts';
import { ADAPTER_FLAG, DATA_FLAGS, DEFAULT_TEST_DATA, loadCliMethodAdapter, loadCliModel, MODEL_FLAG, readExamples } from '../context.ts';
import { disposeInjection } from '../../engine/methods/method.ts';
import type { Command } from '../command.ts';
import { bar, emit, status, statusDone } from '../output.ts';

/** The validation (or test) rows a run held out, from the split.json its export wrote beside dataset.jsonl. */
async function heldOutRows(file: string, data: ReturnType<typeof readExamples>, part: SplitPart) {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`${file}: ${(e as Error).message}`);
  }
  const ids = (k: string) => {
    const v = json[k];
    if (!Array.isArray(v) || !v.every((i) => Number.isInteger(i))) throw new UsageError(`${file}: "${k}" must be a list of row ids`);
    return v as number[];
  };
  if (typeof json.dataset !== 'string') throw new UsageError(`${file}: "dataset" (the hash of the rows the split was made for) is missing`);
  const split = { datasetHash: json.dataset, train: ids('train'), validation: ids('validation'), test: ids('test') };
  return splitRows(split, { hash: await datasetHash(data.rows, null), rows: data.rows, testRows: part === 'test' ? data.rows : null }, data.mapping, data.name, part);
}

export const evaluate: Command = {
  spec: {
    name: 'eval',
    summary: 'Held-out loss, accuracy of the greedily generated label, and per-label accuracy.',
    usage: 'eval --model M [--adapter DIR] --data FILE [--template T] [--split split.json]',
    flags: [
      MODEL_FLAG,
      ADAPTER_FLAG,
      { name: 'data', type: 'string', help: 'JSONL or CSV file (text+label or prompt+completion)', default: DEFAULT_TEST_DATA },
      ...DATA_FLAGS,
      { name: 'split', type: 'string', help: "a run's split.json (from train --out or the tab's export): score only the validation rows of --data it held out" },
      { name: 'text-prompt', type: 'string', help: 'plain text put before each input (e.g. the init phrase, as a baseline)' },
      { name: 'batch-size', type: 'int', help: 'batch size for the loss', default: 8 },
      { name: 'max-length', type: 'int', help: 'longest example in tokens (truncated beyond)' },
      { name: 'limit', type: 'int', help: 'evaluate only the first N examples' },
    ],
  },
  async run(flags) {
    const data = readExamples(flags.data as string, flags);
    const all = flags.split ? (await heldOutRows(flags.split as string, data, 'validation')).examples : data.examples;
    const examples = firstExamples(all, (flags.limit as number | undefined) ?? null);
    const lm = await loadCliModel(flags.model as string);
    const adapter = flags.adapter ? loadCliMethodAdapter(lm, flags.adapter as string) : null;
    const score = await evaluateCondition(lm, adapter?.tuned ?? null, examples, {
      textPrefix: flags['text-prompt'] as string | undefined,
      labelTask: true,
      batchSize: flags['batch-size'] as number,
      maxLength: (flags['max-length'] as number | undefined) ?? null,
      onProgress: (done, total) => status(`eval ${bar(done / total)} ${done}/${total}`),
    });
    statusDone();
    if (adapter) disposeInjection(adapter.tuned);
    const labels = score.labels as NonNullable<typeof score.labels>;
    emit({
      loss: score.loss,
      accuracy: labels.accuracy,
      ...(data.mapping.kind === 'label' ? { per_label: labels.perLabel, majority_baseline: majorityBaseline(examples) } : {}),
      examples: examples.length,
      ...(adapter ? { method: adapter.adapter.config.method } : {}),
      truncated: score.truncated,
      ...(adapter?.warnings.length ? { warnings: adapter.warnings } : {}),
    });
  },
};
