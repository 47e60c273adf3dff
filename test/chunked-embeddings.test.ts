// Embedding matrices larger than the device's buffer limit are split into row chunks; with an
// artificially tiny limit every fixture must still give the same numbers.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setMaxBufferBytes } from '../src/engine/device-limits.ts';
import { generate } from '../src/engine/generate.ts';
import { loadModel } from '../src/engine/load.ts';
import { batchFromJson } from '../src/engine/prompt/batch.ts';
import { initSoftPrompt } from '../src/engine/prompt/init.ts';
import { lossAndGradient, promptForward } from '../src/engine/prompt/prompted.ts';
import { initNodeBackend } from '../src/node/backend.ts';
import { FolderSource } from '../src/node/folder-source.ts';
import { fixtureModels, lossTolerance, maxAbsDiff, readCase, tensorTolerance } from './support/fixtures.ts';

beforeAll(async () => {
  await initNodeBackend();
  // 2,000 bytes: 15 rows of width 32 per chunk, so a 507-row embedding becomes 34 chunks.
  setMaxBufferBytes(2000);
});
afterAll(() => setMaxBufferBytes(null));

describe('embeddings split to fit a small buffer limit', () => {
  // The family fixtures once each (their two config layouts load the same tables).
  for (const { name, dir } of fixtureModels().filter((m) => !m.configFile)) {
    it(`${name}: forward, gradient, TEXT init and greedy decoding are unchanged`, async () => {
      const lm = await loadModel(new FolderSource(dir));
      expect(lm.model.embeddings.chunks.length).toBeGreaterThan(10);
      expect(lm.model.embeddings.chunks.every((c) => c.size * 4 <= 2000)).toBe(true);
      const { json, expected } = readCase(dir, 'forward');
      const pe = expected!.get('prompt_embeddings');
      const prompt = tf.tensor2d(pe.data, pe.shape as [number, number]);
      const batch = batchFromJson(json, 'forward');
      const { logits, loss } = promptForward(lm.model, prompt, batch);
      const want = expected!.get('logits').data;
      expect(maxAbsDiff(logits.dataSync(), want)).toBeLessThanOrEqual(tensorTolerance(want));
      expect(Math.abs(loss!.dataSync()[0] - json.loss)).toBeLessThanOrEqual(lossTolerance(json.loss));
      const { grad } = lossAndGradient(lm.model, prompt, batch);
      const g = expected!.get('grad_prompt_embeddings').data;
      expect(maxAbsDiff(grad.dataSync(), g)).toBeLessThanOrEqual(tensorTolerance(g));
      const init = readCase(dir, 'init-text-short');
      const p = await initSoftPrompt(lm.model, lm.tokenizer, { kind: 'TEXT', text: init.json.init.text, numVirtualTokens: init.json.num_virtual_tokens });
      expect(maxAbsDiff(p.values, init.expected!.get('prompt_embeddings').data)).toBe(0);
      const greedy = readCase(dir, 'greedy');
      const gp = greedy.expected!.get('prompt_embeddings');
      const gPrompt = tf.tensor2d(gp.data, gp.shape as [number, number]);
      const ids = await generate(lm.model, gPrompt, greedy.json.greedy.prompt_ids, { maxNewTokens: greedy.json.greedy.max_new_tokens, greedy: true });
      expect(ids).toEqual(greedy.json.greedy.output_ids);
      tf.dispose([prompt, logits, loss!, grad, gPrompt]);
      lm.dispose();
    });
  }
});
