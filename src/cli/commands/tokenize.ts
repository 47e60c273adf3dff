import { loadCliModel, MODEL_FLAG } from '../context.ts';
import type { Command } from '../command.ts';
import { emit } from '../output.ts';

export const tokenize: Command = {
  spec: {
    name: 'tokenize',
    summary: 'Token ids of a text, as tokenizer(text).input_ids gives them (special tokens included).',
    usage: 'tokenize --model M --text S',
    flags: [MODEL_FLAG, { name: 'text', type: 'string', help: 'text to tokenize', required: true }],
  },
  async run(flags) {
    const lm = await loadCliModel(flags.model as string);
    emit({ ids: lm.tokenizer.encode(flags.text as string) });
  },
};
