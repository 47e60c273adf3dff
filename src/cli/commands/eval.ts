import { readFileSync } from 'node:fs';
import path from 'node:path';
import { baseRevision } from '../../engine/adapter/adapter.ts';
import { formatVersionTable, parseSuite, suiteLabels, versionRows, type VersionInput } from '../../engine/run/suite.ts';
import { scoreSuite } from '../../engine/run/evaluate.ts';
import { majorityBaseline } from '../../engine/data/labels.ts';
import { UsageError } from '../args.ts';
import { evaluateCondition, firstExamples, splitRows, type SplitPart } from '../../engine/run/evaluate.ts';
import { datasetHash } from '../../engine/data/hash.ts';
import { ADAPTER_FLAG, DATA_FLAGS, DEFAULT_TEST_DATA, loadCliMethodAdapter, loadCliModel, MODEL_FLAG, readExamples, readText } from '../context.ts';
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
    usage:
      'eval --model M [--adapter DIR] --data FILE [--template T] [--split split.json]\n       eval --model M --suite FILE --adapter V1 [--adapter V2 ...]  (versions oldest first: the versions table)',
    flags: [
      MODEL_FLAG,
      { ...ADAPTER_FLAG, repeatable: true, help: `${ADAPTER_FLAG.help}; with --suite, once per version, oldest first` },
      { name: 'suite', type: 'string', help: "a task's pinned suite (the Adapters panel's download): score each --adapter on it and print the versions table" },
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
    const dirs = (flags.adapter as string[] | undefined) ?? [];
    if (flags.suite) return evalSuite(flags.model as string, flags.suite as string, dirs);
    if (dirs.length > 1) throw new UsageError('eval: several --adapter flags compare versions on a suite: give --suite FILE too');
    const data = readExamples(flags.data as string, flags);
    const all = flags.split ? (await heldOutRows(flags.split as string, data, 'validation')).examples : data.examples;
    const examples = firstExamples(all, (flags.limit as number | undefined) ?? null);
    const lm = await loadCliModel(flags.model as string);
    const adapter = dirs.length ? loadCliMethodAdapter(lm, dirs[0]) : null;
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

/**
 * Each adapter (a version of the suite's task, oldest first) scored on the suite: the same rows
 * and table as the Adapters panel. The table goes to stderr for people, the rows to stdout as JSON.
 */
async function evalSuite(model: string, file: string, dirs: string[]): Promise<void> {
  const suite = await parseSuite(readText(file), file);
  const lm = await loadCliModel(model);
  const inputs: VersionInput[] = [];
  for (const [i, dir] of (dirs.length ? dirs : [null]).entries()) {
    const adapter = dir ? loadCliMethodAdapter(lm, dir) : null;
    const name = dir ? path.basename(path.resolve(dir)) : 'base model (no adapter)';
    try {
      const score = await scoreSuite(lm, adapter?.tuned ?? null, suite, (done, total) => status(`${name} ${bar(done / total)} ${done}/${total}`));
      inputs.push({ id: dir ?? '', name, createdAt: i, score, revision: adapter ? adapter.adapter.meta.revision : baseRevision(lm.origin) });
    } finally {
      if (adapter) disposeInjection(adapter.tuned);
    }
  }
  statusDone();
  const loaded = baseRevision(lm.origin);
  const rows = versionRows(inputs, suite, loaded);
  process.stderr.write(`${suite.task}: ${suite.examples.length}-row suite ${suite.hash.slice(0, 12)} (${suite.source})\n${formatVersionTable(rows, suiteLabels(suite), loaded)}\n`);
  emit({ task: suite.task, suite: suite.hash, rows: suite.examples.length, versions: rows.map(({ id, ...r }) => ({ ...r, adapter: id || null })) });
}
