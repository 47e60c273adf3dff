// Prefix tuning (PEFT's PrefixTuningConfig / PrefixEncoder): V learned key/value vectors for
// every layer, which each block's attention reads before the input as past_key_values (no
// rotary embedding is applied to them, and the real tokens' positions start at V).
//
// One row of the prefix [V, L * 2 * Dt] holds, in order, layer 0's key, layer 0's value, layer 1's
// key, ... each [kvHeads, headDim] (PEFT's view(B, V, L * 2, heads, hd).permute(2, 0, 3, 1, 4)).
// Dt ("token_dim") is kvHeads * headDim: PEFT sizes the prefix by the key/value heads, so GQA
// models get kvHeads heads and models with head_dim != hidden / heads (Qwen3, Gemma) their head_dim.
//
//   prefix_projection false: embedding [V, L * 2 * Dt] is the prefix.
//   prefix_projection true:  embedding [V, Dt] → Linear(Dt, E) → tanh → Linear(E, L * 2 * Dt).
// PEFT saves the prefix itself (the projection's output) as prompt_embeddings, and loads it for
// inference into an embedding of that size; the encoder weights are not saved.
import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM } from '../../models/model.ts';
import { Rng } from '../../random.ts';
import { MethodError, savedTensor, splitValues, type Injection, type ParamSpec, type TuningMethod } from '../method.ts';
import { checkVirtualTokens, PROMPT_KEY } from '../prompt-tuning/index.ts';
import { concatValues, linearInit, standardNormal } from '../torch-init.ts';

export interface PrefixTuningConfig {
  numVirtualTokens: number;
  prefixProjection: boolean;
  /** E of the projection; null: Dt (PEFT's default). */
  encoderHiddenSize: number | null;
  /** PEFT's init_weights: "zero" makes the prefix (or the projection's last layer) zeros. */
  initWeights: 'zero' | null;
}

const P = 'prompt_encoder.default.';

/** PEFT's token_dim and num_attention_heads for the prefix of `model`. */
export function prefixDims(model: CausalLM): { tokenDim: number; heads: number; headDim: number; layers: number } {
  const { numKvHeads, headDim, numLayers } = model.config;
  return { tokenDim: numKvHeads * headDim, heads: numKvHeads, headDim, layers: numLayers };
}

/** The prefix [V, L * 2 * Dt] from the trainable tensors (PrefixEncoder.forward). */
function encode(c: PrefixTuningConfig, [emb, w0, b0, w2, b2]: tf.Tensor[]): tf.Tensor2D {
  if (!c.prefixProjection) return emb as tf.Tensor2D;
  const h = tf.tanh(tf.add(tf.matMul(emb, w0, false, true), b0));
  return tf.add(tf.matMul(h, w2, false, true), b2) as tf.Tensor2D;
}

const encoderSize = (model: CausalLM, c: PrefixTuningConfig) => c.encoderHiddenSize ?? prefixDims(model).tokenDim;

/** The prefix [V, L * 2 * Dt] as per-layer keys and values [1, kvHeads, V, headDim]. */
export function prefixKV(model: CausalLM, prefix: tf.Tensor2D): Injection['prefix'] {
  const { heads, headDim, layers } = prefixDims(model);
  const V = prefix.shape[0];
  // [V, L, 2, heads, hd] → [L, 2, heads, V, hd]
  const kv = tf.transpose(tf.reshape(prefix, [V, layers, 2, heads, headDim]), [1, 2, 3, 0, 4]);
  const perLayer = tf.split(kv, layers, 0).map((t) => tf.split(tf.reshape(t, [2, 1, heads, V, headDim]), 2, 0).map((x) => tf.reshape(x, [1, heads, V, headDim]) as tf.Tensor4D));
  return { keys: perLayer.map(([k]) => k), values: perLayer.map(([, v]) => v) };
}

export const prefixTuning: TuningMethod<PrefixTuningConfig> = {
  peftType: 'PREFIX_TUNING',
  check(model, c) {
    checkVirtualTokens(model, c.numVirtualTokens);
    if (c.encoderHiddenSize !== null && (!Number.isInteger(c.encoderHiddenSize) || c.encoderHiddenSize <= 0))
      throw new MethodError(`encoder_hidden_size must be a positive integer, got ${c.encoderHiddenSize}`);
  },
  params(model, c): ParamSpec[] {
    const { tokenDim: D, layers: L } = prefixDims(model);
    const V = c.numVirtualTokens;
    if (!c.prefixProjection) return [{ name: P + 'embedding.weight', shape: [V, L * 2 * D] }];
    const E = encoderSize(model, c);
    return [
      { name: P + 'embedding.weight', shape: [V, D] },
      { name: P + 'transform.0.weight', shape: [E, D] },
      { name: P + 'transform.0.bias', shape: [E] },
      { name: P + 'transform.2.weight', shape: [L * 2 * D, E] },
      { name: P + 'transform.2.bias', shape: [L * 2 * D] },
    ];
  },
  async init({ model, seed }, c) {
    const rng = new Rng(seed);
    const { tokenDim: D, layers: L } = prefixDims(model);
    const V = c.numVirtualTokens;
    const zero = c.initWeights === 'zero';
    if (!c.prefixProjection) return zero ? new Float32Array(V * L * 2 * D) : standardNormal(rng, V * L * 2 * D);
    const E = encoderSize(model, c);
    const emb = standardNormal(rng, V * D);
    const l0 = linearInit(rng, E, D);
    const l2 = linearInit(rng, L * 2 * D, E);
    if (zero) [l2.weight, l2.bias] = [new Float32Array(l2.weight.length), new Float32Array(l2.bias.length)];
    return concatValues([emb, l0.weight, l0.bias, l2.weight, l2.bias]);
  },
  inject: (model, c, tensors) => ({ prompt: null, prefix: prefixKV(model, encode(c, tensors)), lora: null }),
  save(model, c, values) {
    const { tokenDim: D, layers: L } = prefixDims(model);
    const shape = [c.numVirtualTokens, L * 2 * D];
    const data = c.prefixProjection ? tf.tidy(() => encode(c, splitValues(tf.tensor1d(values), this.params(model, c))).dataSync() as Float32Array) : values;
    return { [PROMPT_KEY]: { shape, data } };
  },
  // PEFT keeps the prefix itself (a projection's output): in inference it is a prefix without projection.
  fromSaved(model, c, saved) {
    const { tokenDim: D, layers: L } = prefixDims(model);
    return { config: { method: 'prefix', ...c, prefixProjection: false }, values: savedTensor(saved, PROMPT_KEY, [c.numVirtualTokens, L * 2 * D]).data };
  },
  virtualTokens: () => 0,
  contextTokens: (c) => c.numVirtualTokens,
};
