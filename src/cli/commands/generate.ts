import { generate as generateIds } from '../../engine/generate.ts';
import { ADAPTER_FLAG, loadCliMethodAdapter, loadCliModel, MODEL_FLAG } from '../context.ts';
import { disposeInjection } from '../../engine/methods/method.ts';
import type { Command } from '../command.ts';
import { emit } from '../output.ts';

export const generate: Command = {
  spec: {
    name: 'generate',
    summary: 'Continue a text with an adapter of any method applied (greedy, or sampled with temperature/top-k/top-p).',
    usage: 'generate --model M [--adapter DIR] --prompt S [--max-new-tokens N] [--greedy]',
    flags: [
      MODEL_FLAG,
      ADAPTER_FLAG,
      { name: 'prompt', type: 'string', help: 'text to continue', required: true },
      { name: 'max-new-tokens', type: 'int', help: 'most tokens to generate', default: 32 },
      { name: 'greedy', type: 'boolean', help: 'argmax decoding instead of sampling' },
      { name: 'temperature', type: 'number', help: 'sampling temperature', default: 1 },
      { name: 'top-k', type: 'int', help: 'sample among the k likeliest tokens (0: all)', default: 0 },
      { name: 'top-p', type: 'number', help: 'nucleus sampling mass', default: 1 },
      { name: 'seed', type: 'int', help: 'sampling seed', default: 0 },
    ],
  },
  async run(flags) {
    const lm = await loadCliModel(flags.model as string);
    const adapter = flags.adapter ? loadCliMethodAdapter(lm, flags.adapter as string) : null;
    const ids = await generateIds(lm.model, adapter?.tuned ?? null, lm.tokenizer.encode(flags.prompt as string), {
      maxNewTokens: flags['max-new-tokens'] as number,
      greedy: Boolean(flags.greedy),
      temperature: flags.temperature as number,
      topK: flags['top-k'] as number,
      topP: flags['top-p'] as number,
      seed: flags.seed as number,
      stopTokenIds: [lm.eosTokenId],
    });
    if (adapter) disposeInjection(adapter.tuned);
    emit({ text: lm.tokenizer.decode(ids), ids, ...(adapter ? { method: adapter.adapter.config.method } : {}) });
  },
};
