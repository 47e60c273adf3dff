import * as tf from '@tensorflow/tfjs-core';
import { readFileSync, writeFileSync } from 'node:fs';
import { writeSafetensors } from '../../engine/io/safetensors.ts';
import { batchFromJson, validateBatch } from '../../engine/prompt/batch.ts';
import { promptForward, promptLoss } from '../../engine/prompt/prompted.ts';
import { Tuning } from '../../engine/methods/index.ts';
import { baseWarnings } from '../../engine/adapter/adapter.ts';
import { readMethodAdapterFolder } from '../../node/adapter-folder.ts';
import { tidy } from '../../engine/tidy.ts';
import { ADAPTER_FLAG, loadCliModel, MODEL_FLAG } from '../context.ts';
import type { Command } from '../command.ts';
import { emit } from '../output.ts';

export const forward: Command = {
  spec: {
    name: 'forward',
    summary: 'Logits (and, with an adapter, the gradient of each of its saved tensors) of the PEFT-wrapped model on one batch.',
    usage: 'forward --model M [--adapter DIR] --input FILE.json --out FILE.safetensors',
    flags: [
      MODEL_FLAG,
      ADAPTER_FLAG,
      { name: 'input', type: 'string', help: 'JSON with input_ids, attention_mask, labels (as in SPEC.md case.json)', required: true },
      { name: 'out', type: 'string', help: 'safetensors file to write (logits; with an adapter its tensors and grad_<tensor>, e.g. grad_prompt_embeddings)', required: true },
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
    const adapter = flags.adapter ? readMethodAdapterFolder(flags.adapter as string) : null;
    const warnings = adapter ? baseWarnings(adapter.meta.baseModel, adapter.meta.revision, lm.origin) : [];
    // The adapter's saved tensors are the values here (PEFT's inference form): their gradients are PEFT's
    // gradients of the same tensors (prompt_embeddings, each lora_A / lora_B).
    const form = adapter ? new Tuning(lm.model, adapter.config).fromSaved(adapter.saved) : null;
    const values = form ? tf.tensor1d(form.values) : null;
    const { logits, loss } = tidy(() => promptForward(lm.model, form && values ? form.tuning.inject(values) : null, batch));
    const tensors: Record<string, { shape: number[]; data: Float32Array }> = {
      logits: { shape: logits.shape, data: (await logits.data()) as Float32Array },
    };
    if (form && values) {
      const grad = tidy(() => tf.grad((v: tf.Tensor) => promptLoss(lm.model, form.tuning.inject(v as tf.Tensor1D), batch))(values));
      const grads = form.tuning.save((await grad.data()) as Float32Array);
      for (const [name, t] of Object.entries(form.tuning.save(form.values))) {
        tensors[name] = t;
        tensors[`grad_${name}`] = grads[name];
      }
      tf.dispose([grad, values]);
    }
    writeFileSync(flags.out as string, writeSafetensors(tensors, { format: 'pt' }));
    emit({ loss: loss ? (await loss.data())[0] : null, out: flags.out, ...(adapter ? { method: adapter.config.method } : {}), ...(warnings.length ? { warnings } : {}) });
  },
};
