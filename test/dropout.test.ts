// Training-mode dropout. Torch's RNG cannot be reproduced, so this checks the properties: the mask
// rate and the 1 / (1 - p) scale, the hand-written backward passes against autodiff with the same
// masks, no effect outside training, and the off switch giving the fixture numbers exactly.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../src/engine/generate.ts';
import { loadWeights } from '../src/engine/io/checkpoint.ts';
import type { CausalLM } from '../src/engine/models/model.ts';
import { RandomWeights } from '../src/engine/models/random-weights.ts';
import { buildModel } from '../src/engine/models/registry.ts';
import { Dropout, DropoutError, dropoutRate } from '../src/engine/ops/dropout.ts';
import { batchFromJson } from '../src/engine/prompt/batch.ts';
import { lossAndGradient, promptForward } from '../src/engine/prompt/prompted.ts';
import { PromptTrainer } from '../src/engine/train/trainer.ts';
import { initNodeBackend } from '../src/node/backend.ts';
import { FolderSource } from '../src/node/folder-source.ts';
import { LOCAL_FIXTURES, lossTolerance, maxAbs, maxAbsDiff, readCase, tensorTolerance } from './support/fixtures.ts';

beforeAll(() => initNodeBackend());
afterAll(() => tf.setBackend('wasm'));

describe('dropout masks', () => {
  it('drop at rate p and scale the kept elements by 1 / (1 - p)', () => {
    for (const p of [0.1, 0.5]) {
      const mask = new Dropout(1, 0).mask([400, 250], p)!;
      const data = mask.dataSync();
      mask.dispose();
      const zeros = data.filter((v) => v === 0).length / data.length;
      // 1e5 Bernoulli draws: the standard deviation of the rate is below 0.0016.
      expect(Math.abs(zeros - p)).toBeLessThan(0.008);
      const kept = new Set(data.filter((v) => v !== 0));
      expect([...kept]).toEqual([Math.fround(1 / (1 - p))]);
    }
  });

  it('are the same for the same seed and step, and differ across steps and seeds', () => {
    const draw = (seed: number, step: number) => {
      const m = new Dropout(seed, step).mask([64, 64], 0.3)!;
      const d = Array.from(m.dataSync());
      m.dispose();
      return d;
    };
    expect(draw(5, 2)).toEqual(draw(5, 2));
    expect(draw(5, 2)).not.toEqual(draw(5, 3));
    expect(draw(5, 2)).not.toEqual(draw(6, 2));
  });

  it('are absent at p = 0', () => {
    expect(new Dropout(1, 0).mask([3, 3], 0)).toBeNull();
  });

  it('rates from config.json are checked', () => {
    expect(dropoutRate({ attn_pdrop: 0.1 }, 'attn_pdrop', 'gpt2', 0)).toBe(0.1);
    expect(dropoutRate({}, 'attn_pdrop', 'gpt2', 0.1)).toBe(0.1);
    expect(() => dropoutRate({ attn_pdrop: 1 }, 'attn_pdrop', 'gpt2')).toThrow(DropoutError);
    expect(() => dropoutRate({ hidden_dropout: '0.1' }, 'hidden_dropout', 'bloom')).toThrow(/bloom: config.json field "hidden_dropout" must be a dropout probability in \[0, 1\)/);
  });
});

const VARIANTS: Record<string, Record<string, unknown>> = {
  'gpt2: embd_pdrop, attn_pdrop, resid_pdrop': { model_type: 'gpt2', n_embd: 24, n_layer: 2, n_head: 2, n_positions: 64, vocab_size: 50, embd_pdrop: 0.2, attn_pdrop: 0.3, resid_pdrop: 0.25 },
  'bloom: attention_dropout, hidden_dropout': { model_type: 'bloom', hidden_size: 24, n_layer: 2, n_head: 3, vocab_size: 50, attention_dropout: 0.3, hidden_dropout: 0.2 },
  'bloom, residual after layernorm: hidden_dropout only': {
    model_type: 'bloom',
    hidden_size: 24,
    n_layer: 1,
    n_head: 3,
    vocab_size: 50,
    apply_residual_connection_post_layernorm: true,
    hidden_dropout: 0.3,
  },
  'llama (grouped kv heads): attention_dropout': {
    model_type: 'llama',
    hidden_size: 32,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    intermediate_size: 48,
    vocab_size: 50,
    attention_dropout: 0.3,
  },
  'qwen2: attention_dropout': {
    model_type: 'qwen2',
    hidden_size: 32,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    intermediate_size: 40,
    vocab_size: 50,
    attention_dropout: 0.25,
  },
};

describe('hand-written block gradients with dropout equal autodiff with the same masks', () => {
  for (const [name, config] of Object.entries(VARIANTS)) {
    it(name, async () => {
      const model = buildModel(config, new RandomWeights(7));
      const H = model.config.hiddenSize;
      const x = tf.randomNormal([2, 6, H], 0, 1, 'float32', 3) as tf.Tensor3D;
      const mask = [
        [1, 1, 1, 1, 1, 1],
        [1, 1, 1, 1, 0, 0],
      ];
      const weights = tf.randomNormal([2, 6, H], 0, 1, 'float32', 4);
      // A fresh Dropout with the same seed and step draws the same masks in the same order. useCache
      // runs the plain forward pass (autodiff); without it each block is a custom op.
      const objective = (useCache: boolean, drop: boolean) => (input: tf.Tensor) =>
        tf.sum(tf.mul(model.forward(input as tf.Tensor3D, mask, { useCache, dropout: drop ? new Dropout(11, 4) : undefined }).hidden, weights));
      const gradient = async (backend: string, useCache: boolean, drop = true) => {
        await tf.setBackend(backend);
        return tf.tidy(() => tf.grad(objective(useCache, drop))(x).dataSync());
      };
      const autodiff = await gradient('cpu', true);
      const tolerance = 1e-4 * Math.max(1, maxAbs(autodiff));
      expect(maxAbs(autodiff)).toBeGreaterThan(1e-3);
      expect(maxAbsDiff(await gradient('cpu', false), autodiff)).toBeLessThanOrEqual(tolerance);
      expect(maxAbsDiff(await gradient('wasm', false), autodiff)).toBeLessThanOrEqual(tolerance);
      // The masks matter: without them the gradient is another one.
      expect(maxAbsDiff(await gradient('wasm', false, false), autodiff)).toBeGreaterThan(10 * tolerance);
      tf.dispose([x, weights]);
      model.dispose();
    });
  }
});

/** tiny-gpt2 with its config's dropout set to 0.1 everywhere (the fixture's numbers are without dropout). */
async function gpt2WithDropout(p: number): Promise<CausalLM> {
  const dir = path.join(LOCAL_FIXTURES, 'tiny-gpt2');
  const raw = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
  return buildModel({ ...raw, embd_pdrop: p, attn_pdrop: p, resid_pdrop: p }, await loadWeights(new FolderSource(dir)));
}

describe('dropout only while training', () => {
  const dir = path.join(LOCAL_FIXTURES, 'tiny-gpt2');
  let model: CausalLM;
  beforeAll(async () => {
    await tf.setBackend('wasm');
    model = await gpt2WithDropout(0.1);
  });
  afterAll(() => model.dispose());

  it('forward, loss and gradient outside a training step are the fixture numbers', () => {
    const { json, expected } = readCase(dir, 'forward');
    const pe = expected!.get('prompt_embeddings');
    const prompt = tf.tensor2d(pe.data, pe.shape as [number, number]);
    const batch = batchFromJson(json, 'forward');
    const { logits, loss } = promptForward(model, prompt, batch);
    expect(maxAbsDiff(logits.dataSync(), expected!.get('logits').data)).toBeLessThanOrEqual(tensorTolerance(expected!.get('logits').data));
    expect(Math.abs(loss!.dataSync()[0] - json.loss)).toBeLessThanOrEqual(lossTolerance(json.loss));
    const plain = lossAndGradient(model, prompt, batch);
    expect(maxAbsDiff(plain.grad.dataSync(), expected!.get('grad_prompt_embeddings').data)).toBeLessThanOrEqual(tensorTolerance(expected!.get('grad_prompt_embeddings').data));
    // A training step's dropout changes the loss.
    const dropped = lossAndGradient(model, prompt, batch, { dropout: new Dropout(0, 0) });
    expect(Math.abs(dropped.loss.dataSync()[0] - json.loss)).toBeGreaterThan(1e-3);
    tf.dispose([prompt, logits, loss!, plain.loss, plain.grad, dropped.loss, dropped.grad]);
  });

  it('greedy generation is the fixture output', async () => {
    const { json, expected } = readCase(dir, 'greedy');
    const pe = expected!.get('prompt_embeddings');
    const prompt = tf.tensor2d(pe.data, pe.shape as [number, number]);
    const ids = await generate(model, prompt, json.greedy.prompt_ids, { maxNewTokens: json.greedy.max_new_tokens, greedy: true, stopTokenIds: [] });
    expect(ids).toEqual(json.greedy.output_ids);
    prompt.dispose();
  });

  const trainCase = () => {
    const { json, expected } = readCase(dir, 'train');
    const t = json.train;
    const batches = t.batches.map((b: unknown, i: number) => batchFromJson(b, `batch ${i}`));
    const start = expected!.get('prompt_embeddings');
    const run = async (options: { dropout: boolean; seed?: number }) => {
      const trainer = new PromptTrainer(
        model,
        start.data,
        json.num_virtual_tokens,
        { epochs: 1, stepsPerEpoch: batches.length, batchesForEpoch: () => batches, valBatches: [] },
        {
          lr: t.lr,
          weightDecay: t.weight_decay,
          betas: t.betas,
          eps: t.eps,
          warmupSteps: t.num_warmup_steps,
          ...options,
        },
      );
      const losses: number[] = [];
      const counts: number[] = [];
      await trainer.run((e) => {
        if (e.type !== 'step') return;
        losses.push(e.loss);
        counts.push(tf.memory().numTensors);
      });
      const values = await trainer.promptValues();
      trainer.dispose();
      // No mask outlives its step.
      expect(new Set(counts).size, `tensors after each step: ${counts}`).toBe(1);
      return { losses, values };
    };
    return { json, expected, run };
  };

  it('with dropout off, training gives the fixture numbers', async () => {
    const { json, expected, run } = trainCase();
    const { losses, values } = await run({ dropout: false });
    json.train.losses.forEach((l: number, i: number) => expect(Math.abs(losses[i] - l), `loss ${i}`).toBeLessThanOrEqual(lossTolerance(l)));
    const want = expected!.get('prompt_embeddings_after');
    expect(maxAbsDiff(values, want.data)).toBeLessThanOrEqual(tensorTolerance(want.data));
  });

  it('with dropout on, training is seeded: the same seed repeats, another seed differs', async () => {
    const { json, run } = trainCase();
    const a = await run({ dropout: true, seed: 1 });
    const b = await run({ dropout: true, seed: 1 });
    const c = await run({ dropout: true, seed: 2 });
    expect(a.losses).toEqual(b.losses);
    expect(Array.from(a.values)).toEqual(Array.from(b.values));
    expect(a.losses).not.toEqual(c.losses);
    expect(Math.abs(a.losses[0] - json.train.losses[0])).toBeGreaterThan(1e-4);
  });
});
