import { adapterFiles, makeAdapter } from '../../engine/adapter/adapter.ts';
import { initSoftPrompt, parseInitKind } from '../../engine/prompt/init.ts';
import { DEFAULT_PROMPT_SPEC as P } from '../../engine/run/spec.ts';
import { writeFolder } from '../../node/adapter-folder.ts';
import { loadCliModel, MODEL_FLAG } from '../context.ts';
import type { Command } from '../command.ts';
import type { FlagSpec } from '../args.ts';
import { emit } from '../output.ts';

export const INIT_FLAGS: FlagSpec[] = [
  { name: 'init', type: 'string', help: 'TEXT | SAMPLE_VOCAB | RANDOM', default: P.kind },
  { name: 'init-text', type: 'string', help: 'phrase for TEXT init', default: P.text as string },
  { name: 'virtual-tokens', type: 'int', help: 'number of virtual tokens V', default: P.numVirtualTokens },
  { name: 'seed', type: 'int', help: 'seed for SAMPLE_VOCAB / RANDOM init (and shuffling)', default: P.seed },
];

export const init: Command = {
  spec: {
    name: 'init',
    summary: 'Write an untrained PEFT prompt-tuning adapter (TEXT, SAMPLE_VOCAB or RANDOM init).',
    usage: 'init --model M --init TEXT|SAMPLE_VOCAB|RANDOM [--init-text S] --virtual-tokens V [--seed N] --out DIR',
    flags: [MODEL_FLAG, ...INIT_FLAGS, { name: 'out', type: 'string', help: 'adapter folder to write', required: true }],
  },
  async run(flags) {
    const lm = await loadCliModel(flags.model as string);
    const kind = parseInitKind(flags.init as string);
    const text = flags['init-text'] as string;
    const prompt = await initSoftPrompt(lm.model, lm.tokenizer, { kind, text, numVirtualTokens: flags['virtual-tokens'] as number, seed: flags.seed as number });
    const adapter = makeAdapter(prompt.values, lm.model.config, lm.origin, { kind, text });
    writeFolder(flags.out as string, adapterFiles(adapter));
    emit({ out: flags.out, init: kind, num_virtual_tokens: prompt.numVirtualTokens, token_dim: prompt.hiddenSize, init_ids: prompt.initIds });
  },
};
