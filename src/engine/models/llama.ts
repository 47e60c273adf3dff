// Llama family (Llama, SmolLM2, Qwen2, TinyLlama...): RMSNorm, RoPE (rotate_half), grouped
// key/value heads, SwiGLU MLP, optional q/k/v biases (always present in Qwen2), tied or untied head.
import * as tf from '@tensorflow/tfjs-core';
import type { WeightStore } from '../io/checkpoint.ts';
import type { CausalLM, ForwardOptions, ForwardOutput, ModelConfig } from './model.ts';
import {
  ModelConfigError, WeightLoader, activation, attention, causalBias, checkMask, extendKV, linear, nextCache, numberField,
  optionalId, positiveInt, rmsNorm, splitHeads, tokenIds,
} from './layers.ts';

interface Block {
  inNorm: tf.Tensor1D;
  q: tf.Tensor2D; k: tf.Tensor2D; v: tf.Tensor2D; o: tf.Tensor2D;
  qb: tf.Tensor1D | null; kb: tf.Tensor1D | null; vb: tf.Tensor1D | null; ob: tf.Tensor1D | null;
  postNorm: tf.Tensor1D;
  gate: tf.Tensor2D; up: tf.Tensor2D; down: tf.Tensor2D;
  gateB: tf.Tensor1D | null; upB: tf.Tensor1D | null; downB: tf.Tensor1D | null;
}

export function llamaConfig(raw: Record<string, unknown>): ModelConfig {
  const what = String(raw.model_type);
  const hidden = positiveInt(raw, ['hidden_size'], what);
  const heads = positiveInt(raw, ['num_attention_heads'], what);
  const kvHeads = positiveInt(raw, ['num_key_value_heads'], what, heads);
  if (heads % kvHeads) throw new ModelConfigError(`${what}: num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}`);
  const headDim = positiveInt(raw, ['head_dim'], what, Math.floor(hidden / heads));
  if (headDim % 2) throw new ModelConfigError(`${what}: head_dim ${headDim} must be even for rotary embeddings`);
  return {
    family: 'llama',
    modelType: what,
    hiddenSize: hidden,
    numLayers: positiveInt(raw, ['num_hidden_layers'], what),
    numHeads: heads,
    numKvHeads: kvHeads,
    headDim,
    intermediateSize: positiveInt(raw, ['intermediate_size'], what),
    vocabSize: positiveInt(raw, ['vocab_size'], what),
    contextLength: positiveInt(raw, ['max_position_embeddings'], what, 2048),
    bosTokenId: optionalId(raw.bos_token_id),
    eosTokenIds: tokenIds(raw.eos_token_id),
    padTokenId: optionalId(raw.pad_token_id),
    tieWordEmbeddings: raw.tie_word_embeddings === true,
  };
}

/** Inverse frequencies as transformers computes them in float32, with llama3/linear scaling. */
export function ropeInverseFrequencies(raw: Record<string, unknown>, headDim: number): Float32Array {
  const what = String(raw.model_type);
  const theta = numberField(raw, ['rope_theta'], what, 10000);
  const inv = new Float32Array(headDim / 2);
  for (let i = 0; i < inv.length; i++) inv[i] = 1 / Math.fround(theta ** Math.fround((2 * i) / headDim));
  const scaling = raw.rope_scaling as Record<string, unknown> | null | undefined;
  if (!scaling) return inv;
  const type = String(scaling.rope_type ?? scaling.type ?? 'default');
  const factor = numberField(scaling, ['factor'], `${what} rope_scaling`, 1);
  if (type === 'default') return inv;
  if (type === 'linear') return inv.map((f) => f / factor);
  if (type === 'llama3') {
    const low = numberField(scaling, ['low_freq_factor'], `${what} rope_scaling`);
    const high = numberField(scaling, ['high_freq_factor'], `${what} rope_scaling`);
    const oldCtx = numberField(scaling, ['original_max_position_embeddings'], `${what} rope_scaling`);
    const lowWavelen = oldCtx / low;
    const highWavelen = oldCtx / high;
    return inv.map((f) => {
      const wavelen = (2 * Math.PI) / f;
      if (wavelen < highWavelen) return f;
      if (wavelen > lowWavelen) return f / factor;
      const smooth = (oldCtx / wavelen - low) / (high - low);
      return (1 - smooth) * (f / factor) + smooth * f;
    });
  }
  throw new ModelConfigError(`${what}: rope_scaling type "${type}" is not supported (supported: linear, llama3)`);
}

/** cos and sin tables [T, headDim] for positions past .. past + T - 1 (float32 like transformers). */
function ropeTables(inv: Float32Array, past: number, T: number): [tf.Tensor2D, tf.Tensor2D] {
  const half = inv.length;
  const cos = new Float32Array(T * half * 2);
  const sin = new Float32Array(T * half * 2);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(inv[i] * (past + t));
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      cos[t * 2 * half + i] = cos[t * 2 * half + half + i] = c;
      sin[t * 2 * half + i] = sin[t * 2 * half + half + i] = s;
    }
  }
  return [tf.tensor2d(cos, [T, 2 * half]), tf.tensor2d(sin, [T, 2 * half])];
}

function rotate(x: tf.Tensor4D, cos: tf.Tensor2D, sin: tf.Tensor2D): tf.Tensor4D {
  const half = x.shape[3] / 2;
  const [x1, x2] = tf.split(x, [half, half], 3);
  const rotated = tf.concat([tf.neg(x2), x1], 3);
  return tf.add(tf.mul(x, cos), tf.mul(rotated, sin)) as tf.Tensor4D;
}

export function buildLlama(raw: Record<string, unknown>, store: WeightStore): CausalLM {
  const config = llamaConfig(raw);
  const what = config.modelType;
  const { hiddenSize: H, numLayers, numHeads, numKvHeads, headDim, intermediateSize: F, vocabSize, contextLength } = config;
  const eps = numberField(raw, ['rms_norm_eps'], what, 1e-6);
  const act = activation(String(raw.hidden_act ?? 'silu'), what);
  const qkvBias = what === 'qwen2' || raw.attention_bias === true;
  const oBias = raw.attention_bias === true;
  const mlpBias = raw.mlp_bias === true;
  const inv = ropeInverseFrequencies(raw, headDim);
  const w = new WeightLoader(store, what);
  // HF Linear weights are [out, in]; they are stored transposed so every matmul is x · W.
  const lin = (name: string, out: number, inp: number) => w.load(name, [out, inp], true) as tf.Tensor2D;
  const vec = (name: string, n: number) => w.load(name, [n]) as tf.Tensor1D;
  const maybe = (on: boolean, name: string, n: number) => (on ? vec(name, n) : null);
  try {
    const embedTokens = w.load('model.embed_tokens.weight', [vocabSize, H]) as tf.Tensor2D;
    const blocks: Block[] = [];
    for (let i = 0; i < numLayers; i++) {
      const p = `model.layers.${i}.`;
      blocks.push({
        inNorm: vec(p + 'input_layernorm.weight', H),
        q: lin(p + 'self_attn.q_proj.weight', numHeads * headDim, H),
        k: lin(p + 'self_attn.k_proj.weight', numKvHeads * headDim, H),
        v: lin(p + 'self_attn.v_proj.weight', numKvHeads * headDim, H),
        o: lin(p + 'self_attn.o_proj.weight', H, numHeads * headDim),
        qb: maybe(qkvBias, p + 'self_attn.q_proj.bias', numHeads * headDim),
        kb: maybe(qkvBias, p + 'self_attn.k_proj.bias', numKvHeads * headDim),
        vb: maybe(qkvBias, p + 'self_attn.v_proj.bias', numKvHeads * headDim),
        ob: maybe(oBias, p + 'self_attn.o_proj.bias', H),
        postNorm: vec(p + 'post_attention_layernorm.weight', H),
        gate: lin(p + 'mlp.gate_proj.weight', F, H),
        up: lin(p + 'mlp.up_proj.weight', F, H),
        down: lin(p + 'mlp.down_proj.weight', H, F),
        gateB: maybe(mlpBias, p + 'mlp.gate_proj.bias', F),
        upB: maybe(mlpBias, p + 'mlp.up_proj.bias', F),
        downB: maybe(mlpBias, p + 'mlp.down_proj.bias', H),
      });
    }
    const norm = vec('model.norm.weight', H);
    let head = embedTokens;
    if (!config.tieWordEmbeddings) {
      if (!w.has('lm_head.weight')) throw new ModelConfigError(`${what}: tie_word_embeddings is false but the checkpoint has no "lm_head.weight"`);
      head = w.load('lm_head.weight', [vocabSize, H]) as tf.Tensor2D;
    }
    const scale = 1 / Math.sqrt(headDim);

    return {
      config,
      embeddings: embedTokens,
      parameterCount: w.parameterCount,
      embed: (ids) => tf.gather(embedTokens, ids) as unknown as tf.Tensor3D,
      forward(embeds: tf.Tensor3D, mask: number[][], options: ForwardOptions = {}): ForwardOutput {
        const [B, T] = embeds.shape;
        const past = options.cache?.length ?? 0;
        checkMask(mask, B, T, past);
        if (past + T > contextLength) throw new Error(`${what}: sequence of ${past + T} positions exceeds max_position_embeddings ${contextLength}`);
        const [cos, sin] = ropeTables(inv, past, T);
        const bias = causalBias(mask, T);
        const keys: tf.Tensor4D[] = [];
        const values: tf.Tensor4D[] = [];
        let x: tf.Tensor = embeds;
        blocks.forEach((blk, i) => {
          const h = rmsNorm(x, blk.inNorm, eps);
          const q = rotate(splitHeads(linear(h, blk.q, blk.qb), numHeads, headDim), cos, sin);
          const k = rotate(splitHeads(linear(h, blk.k, blk.kb), numKvHeads, headDim), cos, sin);
          const v = splitHeads(linear(h, blk.v, blk.vb), numKvHeads, headDim);
          const [kAll, vAll] = extendKV(options.cache, i, k, v);
          keys.push(kAll);
          values.push(vAll);
          x = tf.add(x, linear(attention(q, kAll, vAll, bias, scale), blk.o, blk.ob));
          const h2 = rmsNorm(x, blk.postNorm, eps);
          const mlp = tf.mul(act(linear(h2, blk.gate, blk.gateB)), linear(h2, blk.up, blk.upB));
          x = tf.add(x, linear(mlp, blk.down, blk.downB));
        });
        const hidden = rmsNorm(x, norm, eps) as tf.Tensor3D;
        return { hidden, cache: options.useCache ? nextCache(mask, keys, values) : undefined };
      },
      logits: (hidden) => tf.matMul(hidden, head, false, true),
      dispose: () => w.dispose(),
    };
  } catch (e) {
    w.dispose();
    throw e;
  }
}
