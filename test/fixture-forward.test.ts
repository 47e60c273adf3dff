import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import fs from 'node:fs';
import { initNodeBackend } from '../src/node/backend.ts';
import { FolderSource } from '../src/node/folder-source.ts';
import { loadModel } from '../src/engine/load.ts';
import { parseSafetensors } from '../src/engine/io/safetensors.ts';
import { promptForward, lossAndGradient } from '../src/engine/prompt/prompted.ts';

describe('smoke', () => {
  it('tiny-llama forward', async () => {
    await initNodeBackend();
    const dir = '/work/shared/fixtures/tiny-llama';
    const lm = await loadModel(new FolderSource(dir));
    const c = JSON.parse(fs.readFileSync(dir + '/cases/forward/case.json', 'utf8'));
    const exp = parseSafetensors(new Uint8Array(fs.readFileSync(dir + '/cases/forward/expected.safetensors')), 'exp');
    const pe = exp.get('prompt_embeddings');
    const prompt = tf.tensor2d(pe.data, pe.shape as [number, number]);
    const batch = { inputIds: c.input_ids, attentionMask: c.attention_mask, labels: c.labels };
    const { loss } = promptForward(lm.model, prompt, batch);
    expect(loss!.dataSync()[0]).toBeCloseTo(c.loss, 5);
    const { grad } = lossAndGradient(lm.model, prompt, batch);
    expect(grad.shape).toEqual([5, 32]);
  });
});
