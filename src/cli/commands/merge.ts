import path from 'node:path';
import { readMethodAdapterFolder } from '../../node/adapter-folder.ts';
import { baseWarnings } from '../../engine/adapter/adapter.ts';
import { trainableValues } from '../../engine/adapter/method-adapter.ts';
import { loadWeights } from '../../engine/io/checkpoint.ts';
import { writeSafetensors } from '../../engine/io/safetensors.ts';
import { Tuning } from '../../engine/methods/index.ts';
import { mergeLora } from '../../engine/methods/lora/merge.ts';
import { modelSource } from '../../node/model-source.ts';
import { writeFolder } from '../../node/adapter-folder.ts';
import { UsageError } from '../args.ts';
import type { Command } from '../command.ts';
import { loadCliModel, MODEL_FLAG } from '../context.ts';
import { emit } from '../output.ts';

/** The files of a model folder besides its weights, copied to the merged folder when the source has them. */
const MODEL_FILES = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];

export const merge: Command = {
  spec: {
    name: 'merge',
    summary: "Merge a LoRA adapter into the base weights (PEFT's merge_and_unload) and write the merged model folder.",
    usage: 'merge --model M --adapter DIR --out FOLDER',
    flags: [
      MODEL_FLAG,
      { name: 'adapter', type: 'string', help: 'LoRA adapter folder (PEFT layout)', required: true },
      { name: 'out', type: 'string', help: 'model folder to write (config, tokenizer, model.safetensors)', required: true },
    ],
  },
  async run(flags) {
    const dir = flags.adapter as string;
    const adapter = readMethodAdapterFolder(dir);
    if (adapter.config.method !== 'lora')
      throw new UsageError(`merge: ${dir} is a ${adapter.config.method} adapter; only LoRA's deltas merge into the weights (the other methods add positions or keys, not weights)`);
    const lm = await loadCliModel(flags.model as string);
    for (const w of baseWarnings(adapter.meta.baseModel, adapter.meta.revision, lm.origin)) process.stderr.write(`warning: ${w}\n`);
    const values = trainableValues(adapter, new Tuning(lm.model, adapter.config));
    // A second read of the weights: the model released its copy of the stored bytes.
    const source = modelSource(flags.model as string);
    const store = await loadWeights(source);
    const tensors = mergeLora(store, lm.model, adapter.config, values);
    const files: Record<string, Uint8Array> = { 'model.safetensors': writeSafetensors(tensors, { format: 'pt' }) };
    for (const f of MODEL_FILES) {
      const bytes = await source.tryRead(f);
      if (bytes) files[f] = bytes;
    }
    writeFolder(flags.out as string, files);
    lm.dispose();
    emit({ out: flags.out, merged_modules: Object.keys(adapter.saved).length / 2, files: Object.keys(files), base: path.basename(String(flags.model)) });
  },
};
