// Checkpoints stored in BF16 and F16 (test/fixtures/*-bf16, *-f16, made by
// scripts/fixtures/make_16bit.py) stay packed on the device and give transformers' numbers for
// the same checkpoint loaded with dtype=torch.float32, on WASM and on the CPU backend.
import * as tf from '@tensorflow/tfjs-core';
import { statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../src/engine/generate.ts';
import { hasKernel, setTfjsVersionForTest } from '../src/engine/kernels/registry.ts';
import { loadModel, type LoadedModel } from '../src/engine/load.ts';
import { batchFromJson } from '../src/engine/prompt/batch.ts';
import { FEW_ROWS, packedWeight, weightMatMul } from '../src/engine/ops/weight.ts';
import { lossAndGradient, promptForward } from '../src/engine/prompt/prompted.ts';
import { PromptTrainer } from '../src/engine/train/trainer.ts';
import { initNodeBackend } from '../src/node/backend.ts';
import { FolderSource } from '../src/node/folder-source.ts';
import { LOCAL_FIXTURES, lossTolerance, maxAbsDiff, readCase, tensorTolerance } from './support/fixtures.ts';

const MODELS = ['tiny-gpt2', 'tiny-llama', 'tiny-bloom'].flatMap((m) => [`${m}-bf16`, `${m}-f16`]);

beforeAll(async () => {
  expect(await initNodeBackend()).toBe('wasm');
});
afterAll(async () => {
  await tf.setBackend('wasm');
});

async function checkCases(lm: LoadedModel, dir: string): Promise<void> {
  const { json, expected } = readCase(dir, 'forward');
  const pe = expected!.get('prompt_embeddings');
  const prompt = tf.tensor2d(pe.data, pe.shape as [number, number]);
  const batch = batchFromJson(json, 'forward');
  const { logits, loss } = promptForward(lm.model, prompt, batch);
  const want = expected!.get('logits').data;
  expect(maxAbsDiff(logits.dataSync(), want)).toBeLessThanOrEqual(tensorTolerance(want));
  expect(Math.abs(loss!.dataSync()[0] - json.loss)).toBeLessThanOrEqual(lossTolerance(json.loss));
  const { grad, loss: l2 } = lossAndGradient(lm.model, prompt, batch);
  const g = expected!.get('grad_prompt_embeddings').data;
  expect(maxAbsDiff(grad.dataSync(), g)).toBeLessThanOrEqual(tensorTolerance(g));
  tf.dispose([prompt, logits, loss!, grad, l2]);

  const tr = readCase(dir, 'train');
  const t = tr.json.train;
  const batches = t.batches.map((b: unknown, i: number) => batchFromJson(b, `batch ${i}`));
  const trainer = new PromptTrainer(
    lm.model,
    tr.expected!.get('prompt_embeddings').data,
    tr.json.num_virtual_tokens,
    { epochs: 1, stepsPerEpoch: batches.length, batchesForEpoch: () => batches, valBatches: [] },
    {
      lr: t.lr,
      weightDecay: t.weight_decay,
      betas: t.betas,
      eps: t.eps,
      warmupSteps: t.num_warmup_steps,
    },
  );
  const losses: number[] = [];
  const counts: number[] = [];
  await trainer.run((e) => {
    if (e.type !== 'step') return;
    losses.push(e.loss);
    counts.push(tf.memory().numTensors);
  });
  losses.forEach((l, k) => expect(Math.abs(l - t.losses[k]), `train loss ${k}`).toBeLessThanOrEqual(lossTolerance(t.losses[k])));
  expect(counts[2], 'numTensors flat over steps').toBe(counts[1]);
  const after = tr.expected!.get('prompt_embeddings_after').data;
  expect(maxAbsDiff(await trainer.promptValues(), after)).toBeLessThanOrEqual(tensorTolerance(after));
  trainer.dispose();

  const gr = readCase(dir, 'greedy');
  const gp = gr.expected!.get('prompt_embeddings');
  const gPrompt = tf.tensor2d(gp.data, gp.shape as [number, number]);
  const ids = await generate(lm.model, gPrompt, gr.json.greedy.prompt_ids, { maxNewTokens: gr.json.greedy.max_new_tokens, greedy: true });
  expect(ids).toEqual(gr.json.greedy.output_ids);
  gPrompt.dispose();
}

for (const backend of ['wasm', 'cpu']) {
  describe(`16-bit checkpoints on ${backend}`, () => {
    beforeAll(async () => {
      await tf.setBackend(backend);
    });
    for (const name of MODELS) {
      it(`${name}: weights stay packed; logits, loss, gradient, 3 AdamW steps and greedy ids match transformers`, async () => {
        const dir = path.join(LOCAL_FIXTURES, name);
        const lm = await loadModel(new FolderSource(dir));
        try {
          // The weights take the checkpoint's size on the device (the float32 vectors add a little).
          const file = statSync(path.join(dir, 'model.safetensors')).size;
          expect(lm.model.weightBytes).toBeLessThan(file * 1.1);
          expect(lm.model.weightBytes).toBeGreaterThan(file * 0.9);
          expect(lm.model.embeddings.chunks.every((c) => c.packed)).toBe(true);
          await checkCases(lm, dir);
        } finally {
          lm.dispose();
        }
      });
    }
  });
}

describe('with a tfjs version the kernels were not written for', () => {
  beforeAll(() => setTfjsVersionForTest('4.21.0'));
  afterAll(() => setTfjsVersionForTest(null));
  it('16-bit weights are widened at load and give the same numbers', async () => {
    const dir = path.join(LOCAL_FIXTURES, 'tiny-llama-bf16');
    const lm = await loadModel(new FolderSource(dir));
    try {
      expect(lm.model.embeddings.chunks.every((c) => !c.packed)).toBe(true);
      expect(lm.model.weightBytes).toBeGreaterThan(statSync(path.join(dir, 'model.safetensors')).size * 1.8);
      await checkCases(lm, dir);
    } finally {
      lm.dispose();
    }
  });
});

describe("products whose left operand has few rows (a widened weight's transpose)", () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    expect(hasKernel('PtUnpack16T')).toBe(true);
  });
  // Every F16 class (zeros, subnormals, normals, infinities, NaN) and BF16 patterns, in a matrix
  // whose sides are not multiples of the kernel's blocks.
  const [rows, cols] = [37, 70];
  const halves = Uint16Array.from({ length: rows * cols }, (_, i) => [0x0000, 0x8000, 0x0001, 0x83ff, 0x3c00, 0xc500, 0x7bff, 0x7c00, 0xfc00, 0x7e00][i % 10] ^ ((i * 2654435761) >>> 22));
  for (const dtype of ['float16', 'bfloat16'] as const) {
    it(`${dtype}: PtUnpack16T is PtUnpack16's transpose, bit for bit, and a · w and its gradient are unchanged`, async () => {
      const w = packedWeight(halves, dtype, rows, cols);
      const attrs = { bf16: dtype === 'bfloat16' ? 1 : 0 };
      const wide = tf.engine().runKernel('PtUnpack16', { x: w.data }, attrs) as tf.Tensor2D;
      const wideT = tf.engine().runKernel('PtUnpack16T', { x: w.data }, attrs) as tf.Tensor2D;
      expect(wideT.shape).toEqual([cols, rows]);
      const bits = (t: tf.Tensor) => new Uint32Array((t.dataSync() as Float32Array).slice().buffer);
      expect(bits(wideT)).toEqual(bits(tf.transpose(wide)));
      // Finite values only for the product: a · w against the widened matrix's own product.
      const finite = packedWeight(
        halves.map((h) => h & 0xbbff),
        dtype,
        rows,
        cols,
      );
      const plain = tf.engine().runKernel('PtUnpack16', { x: finite.data }, attrs) as tf.Tensor2D;
      for (const M of [1, FEW_ROWS, FEW_ROWS + 1]) {
        const a = tf.randomNormal([M, rows], 0, 1, 'float32', M) as tf.Tensor2D;
        const dy = tf.randomNormal([M, cols], 0, 1, 'float32', M + 1) as tf.Tensor2D;
        const { value, grads } = tf.valueAndGrads((x: tf.Tensor) => tf.sum(tf.mul(weightMatMul(x as tf.Tensor2D, finite), dy)))([a]);
        const want = tf.matMul(a, plain);
        const scale = Math.max(1, tf.max(tf.abs(want)).dataSync()[0]);
        expect(maxAbsDiff(weightMatMul(a, finite).dataSync(), want.dataSync()) / scale).toBeLessThan(1e-6);
        expect(maxAbsDiff(grads[0].dataSync(), tf.matMul(dy, plain, false, true).dataSync()) / scale).toBeLessThan(1e-5);
        tf.dispose([a, dy, value, ...grads, want]);
      }
      tf.dispose([wide, wideT, plain]);
      w.dispose();
      finite.dispose();
    });
  }
});
