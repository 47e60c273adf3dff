// Prompt tuning (PEFT's PromptTuningConfig / PromptEmbedding): V trainable rows [V, H] prepended
// to the input embeddings. Init (TEXT, SAMPLE_VOCAB, RANDOM) is prompt/init.ts; the loss and
// generation with a prepended prompt are prompt/prompted.ts and generate.ts.
import type { CausalLM } from '../../models/model.ts';
import { initSoftPrompt, type InitKind } from '../../prompt/init.ts';
import { MethodError, savedTensor, type Injection, type NamedTensor, type ParamSpec, type TuningMethod } from '../method.ts';
import * as tf from '@tensorflow/tfjs-core';

export interface PromptTuningConfig {
  numVirtualTokens: number;
  init: InitKind;
  initText: string | null;
}

export const PROMPT_KEY = 'prompt_embeddings';

/** The saved prompt under PEFT's key, or the names some versions wrote (`<prefix>.prompt_embeddings`, `prompt_embeddings.weight`). */
export function promptTensor(saved: Record<string, NamedTensor>, shape: number[]): NamedTensor {
  const key = PROMPT_KEY in saved ? PROMPT_KEY : (Object.keys(saved).find((n) => n.endsWith(`.${PROMPT_KEY}`) || n.endsWith(`${PROMPT_KEY}.weight`)) ?? PROMPT_KEY);
  return savedTensor(saved, key, shape);
}

export function checkVirtualTokens(model: CausalLM, V: number): void {
  if (!Number.isInteger(V) || V <= 0) throw new MethodError(`num_virtual_tokens must be a positive integer, got ${V}`);
  if (V >= model.config.contextLength) throw new MethodError(`num_virtual_tokens ${V} leaves no room in the model's ${model.config.contextLength}-token context`);
}

export const promptTuning: TuningMethod<PromptTuningConfig> = {
  peftType: 'PROMPT_TUNING',
  check: (model, c) => checkVirtualTokens(model, c.numVirtualTokens),
  params: (model, c): ParamSpec[] => [{ name: 'prompt_encoder.default.embedding.weight', shape: [c.numVirtualTokens, model.config.hiddenSize] }],
  async init({ model, tokenizer, seed }, c) {
    if (!tokenizer && c.init !== 'RANDOM') throw new MethodError(`${c.init} init needs the model's tokenizer`);
    return (await initSoftPrompt(model, tokenizer!, { kind: c.init, numVirtualTokens: c.numVirtualTokens, text: c.initText, seed })).values;
  },
  inject: (_model, _c, [prompt]): Injection => ({ prompt: prompt as tf.Tensor2D, prefix: null, lora: null }),
  save: (model, c, values) => ({ [PROMPT_KEY]: { shape: [c.numVirtualTokens, model.config.hiddenSize], data: values } }),
  fromSaved: (model, c, saved: Record<string, NamedTensor>) => ({ config: { method: 'prompt', ...c }, values: promptTensor(saved, [c.numVirtualTokens, model.config.hiddenSize]).data }),
  virtualTokens: (c) => c.numVirtualTokens,
  contextTokens: (c) => c.numVirtualTokens,
};
