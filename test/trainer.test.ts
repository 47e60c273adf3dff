import * as tf from '@tensorflow/tfjs-core';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildTrainingSet } from '../src/engine/data/training-set.ts';
import { generate, pickToken } from '../src/engine/generate.ts';
import { loadModel, type LoadedModel } from '../src/engine/load.ts';
import { initSoftPrompt } from '../src/engine/prompt/init.ts';
import { Rng } from '../src/engine/random.ts';
import { PromptTrainer, type TrainData, type TrainerEvent, type TrainOptions } from '../src/engine/train/trainer.ts';
import { initNodeBackend } from '../src/node/backend.ts';
import { FolderSource } from '../src/node/folder-source.ts';
import { LOCAL_FIXTURES } from './support/fixtures.ts';

const WORDS = ['late', 'broken', 'great', 'thanks', 'refund', 'love', 'waiting', 'happy'];
const examples = Array.from({ length: 24 }, (_, i) => ({
  input: `Tweet text : my order is ${WORDS[i % 8]} ${WORDS[(i * 3) % 8]} Label : `,
  target: i % 2 ? 'complaint' : 'no complaint',
}));

let lm: LoadedModel;
let initial: Float32Array;
const V = 4;

function data(epochs: number, valSplit = 0.25): TrainData {
  return buildTrainingSet(lm.tokenizer, examples, lm.eosTokenId, lm.padTokenId, {
    numVirtualTokens: V,
    contextLength: lm.model.config.contextLength,
    maxLength: null,
    batchSize: 4,
    epochs,
    valSplit,
    seed: 3,
  }).data;
}

async function trainFor(
  options: Partial<TrainOptions>,
  epochs = 2,
  resume?: Parameters<typeof PromptTrainer.prototype.checkpoint> extends [] ? Awaited<ReturnType<PromptTrainer['checkpoint']>> : never,
) {
  const trainer = new PromptTrainer(lm.model, initial, V, data(epochs), options, resume);
  const events: TrainerEvent[] = [];
  const summary = await trainer.run((e) => events.push(e));
  const values = await trainer.promptValues();
  trainer.dispose();
  return { summary, events, values };
}

beforeAll(async () => {
  await initNodeBackend();
  lm = await loadModel(new FolderSource(path.join(LOCAL_FIXTURES, 'tiny-llama')));
  initial = (await initSoftPrompt(lm.model, lm.tokenizer, { kind: 'TEXT', text: 'Classify if the tweet is a complaint or not:', numVirtualTokens: V })).values;
});

describe('PromptTrainer', () => {
  it('leaks no tensors: numTensors after step 5 equals numTensors after step 50', async () => {
    const counts = new Map<number, number>();
    const trainer = new PromptTrainer(lm.model, initial, V, data(12, 0), { restoreBest: false });
    await trainer.run((e) => {
      if (e.type === 'step' && (e.step === 5 || e.step === 50)) counts.set(e.step, tf.memory().numTensors);
    });
    trainer.dispose();
    expect(counts.get(5)).toBeGreaterThan(0);
    expect(counts.get(50)).toBe(counts.get(5));
  });

  it('lowers the training loss and validates once per epoch', async () => {
    const { events, summary } = await trainFor({ lr: 3e-2 }, 4);
    const losses = events.filter((e) => e.type === 'step').map((e) => (e as { loss: number }).loss);
    expect(losses.length).toBe(20);
    expect(losses.slice(-5).reduce((a, b) => a + b) / 5).toBeLessThan(losses.slice(0, 5).reduce((a, b) => a + b) / 5);
    expect(events.filter((e) => e.type === 'eval').length).toBe(4);
    expect(summary.stopReason).toBe('completed');
    expect(summary.bestValLoss).not.toBeNull();
  });

  it('stops on a non-finite loss, naming the step and keeping the last finite prompt', async () => {
    const { summary, values, events } = await trainFor({ lr: 1e36, restoreBest: false }, 2);
    expect(summary.stopReason).toBe('non_finite');
    expect(summary.badStep).toBeGreaterThan(0);
    expect(summary.message).toContain(`at step ${summary.badStep}`);
    expect(values.every(Number.isFinite)).toBe(true);
    const steps = events.filter((e) => e.type === 'step');
    expect(steps.length).toBe((summary.badStep as number) - 1);
  });

  it('reads losses back every N steps with identical results', async () => {
    const every1 = await trainFor({ syncEvery: 1 }, 2);
    const every4 = await trainFor({ syncEvery: 4 }, 2);
    expect(Array.from(every4.values)).toEqual(Array.from(every1.values));
    expect(every4.events.filter((e) => e.type === 'step').map((e) => (e as { loss: number }).loss)).toEqual(every1.events.filter((e) => e.type === 'step').map((e) => (e as { loss: number }).loss));
  });

  it('resumes from a checkpoint exactly where it stopped', async () => {
    const straight = await trainFor({ restoreBest: false }, 3, undefined);
    let checkpoint: Awaited<ReturnType<PromptTrainer['checkpoint']>> | null = null;
    const first = new PromptTrainer(lm.model, initial, V, data(3), { restoreBest: false, checkpointEvery: 7 });
    let stop = false;
    await first.run(
      (e) => {
        if (e.type === 'checkpoint') {
          checkpoint = e.checkpoint;
          stop = true;
        }
      },
      { shouldStop: () => stop },
    );
    first.dispose();
    expect(checkpoint!.step).toBe(7);
    const resumed = new PromptTrainer(lm.model, new Float32Array(initial.length), V, data(3), { restoreBest: false }, checkpoint!);
    await resumed.run();
    const values = await resumed.promptValues();
    resumed.dispose();
    expect(Array.from(values)).toEqual(Array.from(straight.values));
  });

  it('stops early when the validation loss stops improving and restores the best prompt', async () => {
    // With lr 0 the validation loss can never improve on the first evaluation.
    const { summary, events, values } = await trainFor({ lr: 0, patience: 2, evalEvery: 1 }, 10);
    expect(summary.stopReason).toBe('early_stopping');
    const evals = events.filter((e) => e.type === 'eval') as { valLoss: number; improved: boolean }[];
    expect(evals.map((e) => e.improved)).toEqual([true, false, false]);
    expect(summary.steps).toBe(3);
    expect(Array.from(values)).toEqual(Array.from(initial));
  });

  it('pauses between steps until resumed', async () => {
    let paused = true;
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const trainer = new PromptTrainer(lm.model, initial, V, data(1, 0), {});
    let steps = 0;
    const run = trainer.run(() => steps++, { waitWhilePaused: () => (paused ? gate : Promise.resolve()) });
    await new Promise((r) => setTimeout(r, 50));
    expect(steps).toBe(0);
    paused = false;
    release();
    await run;
    expect(steps).toBe(6);
    trainer.dispose();
  });
});

describe('generation', () => {
  it('gives the same greedy tokens with the KV cache as by recomputing the whole sequence', async () => {
    const prompt = tf.tensor2d(initial, [V, lm.model.config.hiddenSize]);
    const input = lm.tokenizer.encode('Once upon a time');
    const cached = await generate(lm.model, prompt, input, { maxNewTokens: 8, greedy: true });
    const recomputed: number[] = [];
    for (let i = 0; i < 8; i++) recomputed.push((await generate(lm.model, prompt, [...input, ...recomputed], { maxNewTokens: 1, greedy: true }))[0]);
    expect(cached).toEqual(recomputed);
    prompt.dispose();
  });

  it('samples reproducibly from a seed, and stops at EOS', async () => {
    const a = await generate(lm.model, null, lm.tokenizer.encode('The cat'), { maxNewTokens: 10, greedy: false, temperature: 1.5, seed: 5 });
    const b = await generate(lm.model, null, lm.tokenizer.encode('The cat'), { maxNewTokens: 10, greedy: false, temperature: 1.5, seed: 5 });
    expect(a).toEqual(b);
    const logits = new Float32Array([0, 5, 1]);
    expect(pickToken(logits, { maxNewTokens: 1, greedy: true }, new Rng(0))).toBe(1);
    expect(pickToken(logits, { maxNewTokens: 1, greedy: false, topK: 1 }, new Rng(0))).toBe(1);
    // Stopping: greedy decoding with a stop id ends right after that id's first appearance.
    const free = await generate(lm.model, null, lm.tokenizer.encode('The cat'), { maxNewTokens: 10, greedy: true });
    expect(free).toHaveLength(10);
    const k = Math.max(
      0,
      free.findIndex((id, i) => i > 0 && free.indexOf(id) === i),
    );
    const stopped = await generate(lm.model, null, lm.tokenizer.encode('The cat'), { maxNewTokens: 10, greedy: true, stopTokenIds: [free[k]] });
    expect(stopped).toEqual(free.slice(0, k + 1));
    expect(stopped.length).toBeLessThan(10);
  });

  it('refuses an input that fills the context', async () => {
    await expect(generate(lm.model, null, new Array(512).fill(5), { maxNewTokens: 2, greedy: true })).rejects.toThrow(/fills the 512-token context/);
  });
});
