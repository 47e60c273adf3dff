import * as tf from '@tensorflow/tfjs-core';
import { readFileSync, writeFileSync } from 'node:fs';
import { writeSafetensors } from '../../engine/io/safetensors.ts';
import { batchFromJson, validateBatch } from '../../engine/prompt/batch.ts';
import { lossAndGradient, promptForward } from '../../engine/prompt/prompted.ts';
import { ADAPTER_FLAG, loadCliAdapter, loadCliModel, MODEL_FLAG } from '../context.ts';
import type { Command } from '../command.ts';
import { emit } from '../output.ts';

export const forward: Command = {
  spec: {
    name: 'forward',
    summary: 'Logits (and, with an adapter, the soft prompt gradient) of the PEFT-wrapped model on one batch.',
    usage: 'forward --model M [--adapter DIR] --input FILE.json --out FILE.safetensors',
    flags: [
      MODEL_FLAG,
      ADAPTER_FLAG,
      { name: 'input', type: 'string', help: 'JSON with input_ids, attention_mask, labels (as in SPEC.md case.json)', required: true },
      { name: 'out', type: 'string', help: 'safetensors file to write (logits, grad_prompt_embeddings)', required: true },
    ],
  },
  async run(flags) {
    const file = flags.input as string;
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new Error(`${file}: ${(e as Error).message}`, { cause: e });
    }
    const batch = batchFromJson(json, file);
    const lm = await loadCliModel(flags.model as string);
    validateBatch(batch, lm.model.config.vocabSize, file);
    const adapter = flags.adapter ? loadCliAdapter(lm, flags.adapter as string) : null;
    const { logits, loss } = promptForward(lm.model, adapter?.prompt ?? null, batch);
    const tensors: Record<string, { shape: number[]; data: Float32Array }> = {
      logits: { shape: logits.shape, data: (await logits.data()) as Float32Array },
    };
    if (adapter) {
      const { grad, loss: l } = lossAndGradient(lm.model, adapter.prompt, batch);
      tensors.grad_prompt_embeddings = { shape: grad.shape, data: (await grad.data()) as Float32Array };
      tensors.prompt_embeddings = { shape: adapter.prompt.shape, data: adapter.adapter.promptEmbeddings };
      tf.dispose([grad, l]);
    }
    writeFileSync(flags.out as string, writeSafetensors(tensors, { format: 'pt' }));
    emit({ loss: loss ? (await loss.data())[0] : null, out: flags.out, ...(adapter?.warnings.length ? { warnings: adapter.warnings } : {}) });
  },
};
