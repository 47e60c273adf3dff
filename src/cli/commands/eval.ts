import * as tf from '@tensorflow/tfjs-core';
import { sequentialBatches } from '../../engine/data/batches.ts';
import { encodeExample } from '../../engine/data/encode.ts';
import { exampleBudget } from '../../engine/data/training-set.ts';
import { evaluateLabels, evaluateLoss, majorityBaseline } from '../../engine/evaluate.ts';
import { ADAPTER_FLAG, DATA_FLAGS, DEFAULT_TEST_DATA, loadCliAdapter, loadCliModel, MODEL_FLAG, readExamples } from '../context.ts';
import type { Command } from '../command.ts';
import { bar, emit, status, statusDone } from '../output.ts';

export const evaluate: Command = {
  spec: {
    name: 'eval',
    summary: 'Held-out loss, accuracy of the greedily generated label, and per-label accuracy.',
    usage: 'eval --model M [--adapter DIR] --data FILE [--template T]',
    flags: [
      MODEL_FLAG,
      ADAPTER_FLAG,
      { name: 'data', type: 'string', help: 'JSONL or CSV file (text+label or prompt+completion)', default: DEFAULT_TEST_DATA },
      ...DATA_FLAGS,
      { name: 'text-prompt', type: 'string', help: 'plain text put before each input (e.g. the init phrase, as a baseline)' },
      { name: 'batch-size', type: 'int', help: 'batch size for the loss', default: 8 },
      { name: 'max-length', type: 'int', help: 'longest example in tokens (truncated beyond)' },
      { name: 'limit', type: 'int', help: 'evaluate only the first N examples' },
    ],
  },
  async run(flags) {
    const { examples: all, mapping } = readExamples(flags.data as string, flags);
    const examples = flags.limit ? all.slice(0, flags.limit as number) : all;
    const lm = await loadCliModel(flags.model as string);
    const adapter = flags.adapter ? loadCliAdapter(lm, flags.adapter as string) : null;
    const prompt = adapter?.prompt ?? null;
    const V = prompt ? prompt.shape[0] : 0;
    const prefix = flags['text-prompt'] as string | undefined;
    const withPrefix = prefix ? examples.map((e) => ({ ...e, input: `${prefix} ${e.input}` })) : examples;
    const budget = exampleBudget(lm.model.config.contextLength, V, (flags['max-length'] as number | undefined) ?? null);
    const encoded = withPrefix.map((e) => encodeExample(lm.tokenizer, e, lm.eosTokenId, budget));
    const loss = await evaluateLoss(lm.model, prompt, sequentialBatches(encoded, flags['batch-size'] as number, lm.padTokenId));
    const labels = await evaluateLabels(lm.model, lm.tokenizer, prompt, examples, lm.eosTokenId, {
      textPrefix: prefix,
      onProgress: (done, total) => status(`eval ${bar(done / total)} ${done}/${total}`),
    });
    statusDone();
    if (prompt) prompt.dispose();
    emit({
      loss,
      accuracy: labels.accuracy,
      ...(mapping.kind === 'label' ? { per_label: labels.perLabel, majority_baseline: majorityBaseline(examples) } : {}),
      examples: examples.length,
      truncated: encoded.filter((e) => e.truncated).length,
      ...(adapter?.warnings.length ? { warnings: adapter.warnings } : {}),
    });
  },
};
