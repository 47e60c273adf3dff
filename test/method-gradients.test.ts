// Gradients of every method's trainable values through the blocks' hand-written backward passes
// (LoRA factors and prefix keys/values are inputs of each block op) against tfjs autodiff of the
// plain forward pass (useCache), on the CPU backend and on WASM, for families with fused and
// separate projections, GQA, head_dim != hidden / heads, sliding windows, soft-capping and ALiBi.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModel } from '../src/engine/models/registry.ts';
import { RandomWeights } from '../src/engine/models/random-weights.ts';
import { initNodeBackend } from '../src/node/backend.ts';
import { Tuning, type MethodConfig } from '../src/engine/methods/index.ts';
import { promptedInputs } from '../src/engine/prompt/prompted.ts';
import { maxAbs, maxAbsDiff } from './support/fixtures.ts';

const FAMILIES: Record<string, Record<string, unknown>> = {
  gpt2: { model_type: 'gpt2', n_embd: 24, n_layer: 2, n_head: 2, n_positions: 64, vocab_size: 50 },
  bloom: { model_type: 'bloom', hidden_size: 24, n_layer: 2, n_head: 3, vocab_size: 50 },
  'llama (GQA)': { model_type: 'llama', hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 40, vocab_size: 50 },
  'qwen3 (head_dim 12)': { model_type: 'qwen3', hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 12, intermediate_size: 40, vocab_size: 50 },
  'phi3 (fused qkv_proj, gate_up_proj)': { model_type: 'phi3', hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 4, intermediate_size: 40, vocab_size: 50 },
  'gemma2 (window 3, soft-capping)': {
    model_type: 'gemma2',
    hidden_size: 32,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 1,
    head_dim: 8,
    intermediate_size: 40,
    vocab_size: 50,
    query_pre_attn_scalar: 5,
    attn_logit_softcapping: 0.5,
    sliding_window: 3,
  },
  olmo2: { model_type: 'olmo2', hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 40, vocab_size: 50 },
};

const CONFIGS: MethodConfig[] = [
  { method: 'lora', r: 2, alpha: 6, dropout: 0, targetModules: 'all-linear', useRslora: false },
  { method: 'prefix', numVirtualTokens: 3, prefixProjection: false, encoderHiddenSize: null, initWeights: null },
  { method: 'prefix', numVirtualTokens: 2, prefixProjection: true, encoderHiddenSize: 8, initWeights: null },
  { method: 'p_tuning', numVirtualTokens: 2, encoderType: 'LSTM', encoderHiddenSize: 6, encoderNumLayers: 2, encoderDropout: 0 },
];

beforeAll(() => initNodeBackend());
afterAll(() => tf.setBackend('wasm'));

describe('method gradients through the hand-written blocks equal autodiff', () => {
  for (const [family, config] of Object.entries(FAMILIES)) {
    for (const mc of CONFIGS) {
      it(`${family}: ${mc.method}${mc.method === 'prefix' && mc.prefixProjection ? ' (projection)' : ''}`, async () => {
        const model = buildModel(config, new RandomWeights(7));
        const tuning = new Tuning(model, mc);
        // Random values everywhere (LoRA's B included, which init sets to zero) so every path carries gradient.
        const values = tf.randomNormal([tuning.size], 0, 0.5, 'float32', 5) as tf.Tensor1D;
        const ids = [
          [3, 9, 4, 7, 1, 8],
          [5, 2, 6, 7, 0, 0],
        ];
        const mask = [
          [1, 1, 1, 1, 1, 1],
          [1, 1, 1, 1, 0, 0],
        ];
        const V = tuning.virtualTokens;
        const weights = tf.randomNormal([2, V + 6, model.config.hiddenSize], 0, 1, 'float32', 4);
        // useCache runs the plain forward pass (tape autodiff); without it each block is a custom op.
        const objective = (useCache: boolean) => (v: tf.Tensor) => {
          const inputs = promptedInputs(model, tuning.inject(v as tf.Tensor1D), ids, mask, { useCache });
          return tf.sum(tf.mul(model.forward(inputs.embeds, inputs.mask, inputs.forward).hidden, weights));
        };
        const gradient = async (backend: string, useCache: boolean) => {
          await tf.setBackend(backend);
          return tf.tidy(() => tf.grad(objective(useCache))(values).dataSync());
        };
        const autodiff = await gradient('cpu', true);
        const tolerance = 1e-4 * Math.max(1, maxAbs(autodiff));
        expect(maxAbs(autodiff)).toBeGreaterThan(1e-3);
        expect(maxAbsDiff(await gradient('cpu', false), autodiff)).toBeLessThanOrEqual(tolerance);
        expect(maxAbsDiff(await gradient('wasm', false), autodiff)).toBeLessThanOrEqual(tolerance);
        values.dispose();
        weights.dispose();
        model.dispose();
      });
    }
  }
});
