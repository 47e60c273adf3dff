// The shared run functions the worker and the CLI both call (src/engine/run/): a plan's numbers,
// the init scale beside the vocabulary's, a limited evaluation's rows, an adapter applied to the model.
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeAdapter } from '../src/engine/adapter/adapter.ts';
import { datasetHash } from '../src/engine/data/hash.ts';
import type { Row } from '../src/engine/data/parse.ts';
import { embeddingScale } from '../src/engine/inspect.ts';
import { loadModel, type LoadedModel } from '../src/engine/load.ts';
import { initSoftPrompt } from '../src/engine/prompt/init.ts';
import { applyAdapter } from '../src/engine/run/adapter.ts';
import { firstExamples } from '../src/engine/run/evaluate.ts';
import { planRun, runStats } from '../src/engine/run/plan.ts';
import { DEFAULT_TRAIN_SPEC, initPromptNorm } from '../src/engine/run/spec.ts';
import { initNodeBackend } from '../src/node/backend.ts';
import { FolderSource } from '../src/node/folder-source.ts';
import { LOCAL_FIXTURES } from './support/fixtures.ts';

let lm: LoadedModel;

beforeAll(async () => {
  await initNodeBackend();
  lm = await loadModel(new FolderSource(path.join(LOCAL_FIXTURES, 'tiny-llama')));
});

const rows: Row[] = Array.from({ length: 22 }, (_, i) => ({ text: `my parcel is ${i % 2 ? 'late again' : 'here'} #${i}`, label: i % 2 ? 'complaint' : 'no complaint' }));
const mapping = { kind: 'label' as const, input: 'text', target: 'label', template: 'Tweet text : {text} Label : ' };

describe('runStats', () => {
  it("gives the plan's split, steps and lengths", async () => {
    const train = { ...DEFAULT_TRAIN_SPEC, epochs: 2, batchSize: 4, maxLength: null, valSplit: 0.2, seed: 3 };
    const plan = planRun(lm, { rows, testRows: null, datasetHash: await datasetHash(rows, null), mapping, name: 'tweets', numVirtualTokens: 4, train });
    const s = runStats(plan);
    expect(s).toMatchObject({ trainCount: 18, valCount: 4, stepsPerEpoch: 5, totalSteps: 10, maxLength: plan.set.maxLength, truncated: 0 });
    expect(s.trainCount).toBe(plan.split.train.length);
    expect(s.train).toEqual(plan.set.stats.train);
    expect(s.val).toEqual(plan.set.stats.val);
  });

  it('counts the step limit and the truncated examples of both parts', async () => {
    const train = { ...DEFAULT_TRAIN_SPEC, epochs: 3, batchSize: 4, maxLength: 6, valSplit: 0.2, seed: 3, maxSteps: 7 };
    const s = runStats(planRun(lm, { rows, testRows: null, datasetHash: await datasetHash(rows, null), mapping, name: 'tweets', numVirtualTokens: 4, train }));
    expect(s.totalSteps).toBe(7);
    expect(s.maxLength).toBe(6);
    expect(s.truncated).toBe(22);
    expect(s.truncated).toBe(s.train.truncated + s.val.truncated);
  });
});

describe('initPromptNorm', () => {
  it("puts RANDOM at sqrt(H), the norm of its N(0, 1) rows, and the vocabulary inits at the vocabulary's", async () => {
    const H = lm.model.config.hiddenSize;
    const { mean } = await embeddingScale(lm.model, lm.tokenizer);
    expect(initPromptNorm('RANDOM', H, mean)).toBe(Math.sqrt(H));
    expect(initPromptNorm('TEXT', H, mean)).toBe(mean);
    expect(initPromptNorm('SAMPLE_VOCAB', H, mean)).toBe(mean);
    // The rule against a real RANDOM init: the mean row norm is near sqrt(H).
    const V = 64;
    const p = await initSoftPrompt(lm.model, lm.tokenizer, { kind: 'RANDOM', numVirtualTokens: Math.min(V, lm.model.config.contextLength - 1), seed: 1 });
    const n = p.values.length / H;
    let sum = 0;
    for (let r = 0; r < n; r++) sum += Math.hypot(...p.values.subarray(r * H, (r + 1) * H));
    expect(Math.abs(sum / n - Math.sqrt(H)) / Math.sqrt(H)).toBeLessThan(0.15);
  });
});

describe('firstExamples', () => {
  it('cuts to the limit; null or 0 keeps all', () => {
    const xs = [1, 2, 3].map((i) => ({ input: `x${i}`, target: 'y' }));
    expect(firstExamples(xs, 2)).toEqual(xs.slice(0, 2));
    expect(firstExamples(xs, null)).toBe(xs);
    expect(firstExamples(xs, 0)).toBe(xs);
    expect(firstExamples(xs, 10)).toEqual(xs);
  });
});

describe('applyAdapter', () => {
  it('gives the [V, H] prompt and the base-model warnings, and refuses another width', () => {
    const H = lm.model.config.hiddenSize;
    const values = new Float32Array(3 * H).map((_, i) => i / 10);
    const other = makeAdapter(values, lm.model.config, { kind: 'hub', id: 'org/other', revision: null, commit: null }, { kind: 'RANDOM' });
    const before = tf.memory().numTensors;
    const { prompt, warnings } = applyAdapter(lm, { config: other.config, promptEmbeddings: values });
    expect(prompt.shape).toEqual([3, H]);
    expect(Array.from(prompt.dataSync())).toEqual(Array.from(values));
    expect(warnings).toEqual([`adapter was trained on org/other, the loaded model is ${lm.origin.id}`]);
    prompt.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const wide = { ...other.config, tokenDim: H + 1 };
    expect(() => applyAdapter(lm, { config: wide, promptEmbeddings: new Float32Array(3 * (H + 1)) })).toThrow(/wide but the loaded model's hidden size/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
