// initSoftPrompt (init.ts) with the embedding rows read back asynchronously. A synchronous read
// (dataSync) on the WebGPU backend goes through a canvas, which a Web Worker on a software
// adapter cannot always provide (the device is lost); the browser worker uses this version.
// Same rules and the same random draws as init.ts, checked equal by test/init-async.test.ts.
import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM } from '../models/model.ts';
import { Rng } from '../random.ts';
import type { TextTokenizer } from '../tokenizer.ts';
import { PromptInitError, initSoftPrompt, textInitIds, type PromptInit, type SoftPrompt } from './init.ts';

async function embeddingRows(model: CausalLM, ids: number[]): Promise<Float32Array> {
  const rows = tf.tidy(() => model.embeddings.lookup(ids));
  try {
    return (await rows.data()) as Float32Array;
  } finally {
    rows.dispose();
  }
}

export async function initSoftPromptAsync(model: CausalLM, tokenizer: TextTokenizer, init: PromptInit): Promise<SoftPrompt> {
  const V = init.numVirtualTokens;
  const H = model.config.hiddenSize;
  if (!Number.isInteger(V) || V <= 0) throw new PromptInitError(`num_virtual_tokens must be a positive integer, got ${V}`);
  if (V >= model.config.contextLength) throw new PromptInitError(`num_virtual_tokens ${V} leaves no room in the model's ${model.config.contextLength}-token context`);
  if (init.kind === 'RANDOM') return initSoftPrompt(model, tokenizer, init); // no read-back involved
  let ids: number[];
  if (init.kind === 'TEXT') {
    if (!init.text) throw new PromptInitError('TEXT init needs an init text (prompt_tuning_init_text)');
    ids = textInitIds(tokenizer, init.text, V);
  } else {
    const rng = new Rng(init.seed ?? 0);
    const rows = model.embeddings.rows;
    ids = Array.from({ length: V }, () => rng.int(rows));
  }
  return { numVirtualTokens: V, hiddenSize: H, values: await embeddingRows(model, ids), initIds: ids };
}
