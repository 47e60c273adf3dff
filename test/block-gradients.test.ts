// The blocks' hand-written backward passes against tfjs autodiff of the same forward pass,
// for configuration variants the fixtures do not cover. Autodiff runs on the CPU backend, where
// the forward pass is made of plain tfjs ops; the hand-written pass runs on WASM (fused loop
// kernels, XNNPACK products) and on CPU.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModel } from '../src/engine/models/registry.ts';
import { RandomWeights } from '../src/engine/models/random-weights.ts';
import { initNodeBackend } from '../src/node/backend.ts';
import { maxAbs, maxAbsDiff } from './support/fixtures.ts';

const VARIANTS: Record<string, Record<string, unknown>> = {
  'bloom, residual after layernorm': { model_type: 'bloom', hidden_size: 24, n_layer: 2, n_head: 3, vocab_size: 50, apply_residual_connection_post_layernorm: true },
  'bloom, 6 heads (ALiBi slopes beyond a power of two)': { model_type: 'bloom', hidden_size: 24, n_layer: 1, n_head: 6, vocab_size: 50 },
  'gpt2, erf gelu, attention scaled by inverse layer index': {
    model_type: 'gpt2',
    n_embd: 24,
    n_layer: 2,
    n_head: 2,
    n_positions: 64,
    vocab_size: 50,
    activation_function: 'gelu',
    scale_attn_by_inverse_layer_idx: true,
  },
  'gpt2, relu': { model_type: 'gpt2', n_embd: 16, n_layer: 1, n_head: 2, n_positions: 64, vocab_size: 50, activation_function: 'relu' },
  'llama, attention and mlp biases, llama3 rope scaling': {
    model_type: 'llama',
    hidden_size: 32,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 1,
    intermediate_size: 48,
    vocab_size: 50,
    attention_bias: true,
    mlp_bias: true,
    rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 },
  },
  'qwen3, sliding window 3 from layer 1 on, q/k/v/o biases': {
    model_type: 'qwen3',
    hidden_size: 32,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 12,
    intermediate_size: 40,
    vocab_size: 50,
    use_sliding_window: true,
    sliding_window: 3,
    max_window_layers: 1,
    attention_bias: true,
  },
  'gemma2, attention soft-capping 0.5, biases, sliding window 2': {
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
    final_logit_softcapping: 3,
    sliding_window: 2,
    attention_bias: true,
  },
  'gemma3_text, attention soft-capping, per-layer rope, llama3 scaling on full layers': {
    model_type: 'gemma3_text',
    hidden_size: 32,
    num_hidden_layers: 3,
    num_attention_heads: 2,
    num_key_value_heads: 2,
    head_dim: 16,
    intermediate_size: 40,
    vocab_size: 50,
    query_pre_attn_scalar: 16,
    attn_logit_softcapping: 2,
    sliding_window: 3,
    sliding_window_pattern: 2,
    rope_parameters: {
      sliding_attention: { rope_type: 'default', rope_theta: 100 },
      full_attention: { rope_type: 'llama3', rope_theta: 1e5, factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 4 },
    },
  },
  'olmo2, attention biases': {
    model_type: 'olmo2',
    hidden_size: 32,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    intermediate_size: 40,
    vocab_size: 50,
    attention_bias: true,
  },
  'phi3, sliding window 4, gelu mlp': {
    model_type: 'phi3',
    hidden_size: 32,
    num_hidden_layers: 1,
    num_attention_heads: 4,
    num_key_value_heads: 4,
    intermediate_size: 40,
    vocab_size: 50,
    sliding_window: 4,
    hidden_act: 'gelu',
  },
  'qwen2, gelu_pytorch_tanh mlp': {
    model_type: 'qwen2',
    hidden_size: 32,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    num_key_value_heads: 2,
    intermediate_size: 40,
    vocab_size: 50,
    hidden_act: 'gelu_pytorch_tanh',
  },
};

beforeAll(() => initNodeBackend());
afterAll(() => tf.setBackend('wasm'));

describe('hand-written block gradients equal autodiff', () => {
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
      // useCache runs the plain forward pass; without it each block is a custom op.
      const objective = (useCache: boolean) => (input: tf.Tensor) => tf.sum(tf.mul(model.forward(input as tf.Tensor3D, mask, { useCache }).hidden, weights));
      const gradient = async (backend: string, useCache: boolean) => {
        await tf.setBackend(backend);
        return tf.grad(objective(useCache))(x).dataSync();
      };
      const autodiff = await gradient('cpu', true);
      const tolerance = 1e-4 * Math.max(1, maxAbs(autodiff));
      expect(maxAbs(autodiff)).toBeGreaterThan(1e-3);
      expect(maxAbsDiff(await gradient('cpu', false), autodiff)).toBeLessThanOrEqual(tolerance);
      expect(maxAbsDiff(await gradient('wasm', false), autodiff)).toBeLessThanOrEqual(tolerance);
      model.dispose();
    });
  }
});
