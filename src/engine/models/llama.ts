// Llama family (Llama, SmolLM2, Qwen2, TinyLlama...): RMSNorm, RoPE (rotate_half), grouped
// key/value heads, SwiGLU MLP, optional q/k/v biases (always present in Qwen2), tied or untied head.
import * as tf from '@tensorflow/tfjs-core';
import type { WeightStore } from '../io/checkpoint.ts';
import type { CausalLM, ForwardOptions, ForwardOutput, ModelConfig } from './model.ts';
import {
  ModelConfigError, WeightLoader, activation, causalBias, forwardSpan, nextCache, runBlocks, type BlockRun, numberField, optionalId, positiveInt,
  tokenIds,
} from './layers.ts';
import { ACTIVATIONS } from '../ops/activations.ts';
import { attentionBackward, attentionForward, mergeHeads, splitHeads } from '../ops/attention.ts';
import { linear, linearBackward } from '../ops/linear.ts';
import type { Weight } from '../ops/weight.ts';
import * as fused from '../ops/fused.ts';
import { rmsNorm } from '../ops/norms.ts';
import { ropeTables } from '../ops/rope.ts';

// q, k and v share one matmul, as do gate and up: fewer, larger products.
interface Block {
  inNorm: tf.Tensor1D;
  qkv: Weight;
  qkvB: tf.Tensor1D | null;
  o: Weight;
  ob: tf.Tensor1D | null;
  postNorm: tf.Tensor1D;
  gateUp: Weight;
  gateUpB: tf.Tensor1D | null;
  down: Weight;
  downB: tf.Tensor1D | null;
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
  const lin = (name: string, out: number, inp: number) => w.matrix(name, [out, inp], true);
  const vec = (name: string, n: number) => w.load(name, [n]) as tf.Tensor1D;
  const maybe = (on: boolean, name: string, n: number) => (on ? vec(name, n) : null);
  try {
    const embedTokens = w.table('model.embed_tokens.weight', vocabSize, H);
    const blocks: Block[] = [];
    for (let i = 0; i < numLayers; i++) {
      const p = `model.layers.${i}.`;
      const qkvB = qkvBias
        ? (w.fuse([vec(p + 'self_attn.q_proj.bias', numHeads * headDim), vec(p + 'self_attn.k_proj.bias', numKvHeads * headDim), vec(p + 'self_attn.v_proj.bias', numKvHeads * headDim)]) as tf.Tensor1D)
        : null;
      blocks.push({
        inNorm: vec(p + 'input_layernorm.weight', H),
        qkv: w.fuse([lin(p + 'self_attn.q_proj.weight', numHeads * headDim, H), lin(p + 'self_attn.k_proj.weight', numKvHeads * headDim, H), lin(p + 'self_attn.v_proj.weight', numKvHeads * headDim, H)]),
        qkvB,
        o: lin(p + 'self_attn.o_proj.weight', H, numHeads * headDim),
        ob: maybe(oBias, p + 'self_attn.o_proj.bias', H),
        postNorm: vec(p + 'post_attention_layernorm.weight', H),
        gateUp: w.fuse([lin(p + 'mlp.gate_proj.weight', F, H), lin(p + 'mlp.up_proj.weight', F, H)]),
        gateUpB: mlpBias ? (w.fuse([vec(p + 'mlp.gate_proj.bias', F), vec(p + 'mlp.up_proj.bias', F)]) as tf.Tensor1D) : null,
        down: lin(p + 'mlp.down_proj.weight', H, F),
        downB: maybe(mlpBias, p + 'mlp.down_proj.bias', H),
      });
    }
    const norm = vec('model.norm.weight', H);
    let head = embedTokens;
    if (!config.tieWordEmbeddings) {
      if (!w.has('lm_head.weight')) throw new ModelConfigError(`${what}: tie_word_embeddings is false but the checkpoint has no "lm_head.weight"`);
      head = w.table('lm_head.weight', vocabSize, H);
    }
    const scale = 1 / Math.sqrt(headDim);
    const qSize = numHeads * headDim;
    const kvSize = numKvHeads * headDim;

    interface Context {
      cos: tf.Tensor2D;
      sin: tf.Tensor2D;
      bias: tf.Tensor;
    }
    // SiLU-gated MLPs take the fused kernel; other activations the generic pair.
    const isSilu = act === ACTIVATIONS.silu || act === ACTIVATIONS.swish;
    const gated = (gu: tf.Tensor) => {
      if (isSilu) return fused.swiGlu(gu);
      const [g, u] = tf.split(gu, 2, -1);
      return tf.mul(act.forward(g), u);
    };
    const gatedGrad = (gu: tf.Tensor, dm: tf.Tensor) => {
      if (isSilu) return fused.swiGluGrad(gu, dm);
      const [g, u] = tf.split(gu, 2, -1);
      return tf.concat([act.backward(tf.mul(dm, u), g), tf.mul(dm, act.forward(g))], -1);
    };
    // Saved for the backward pass, in this order: x q k v p x1 gu cos sin. (Tensors made outside
    // the block are gone by the time the backward pass runs, so the rope tables are saved too.)
    const runBlock = (blk: Block, x: tf.Tensor, c: Context, past?: { k: tf.Tensor4D; v: tf.Tensor4D }): BlockRun => {
      const [qp, kp, vp] = tf.split(linear(fused.rmsNorm(x, blk.inNorm, eps), blk.qkv, blk.qkvB), [qSize, kvSize, kvSize], 2);
      const q = fused.rope(splitHeads(qp, numHeads, headDim), c.cos, c.sin);
      let k = fused.rope(splitHeads(kp, numKvHeads, headDim), c.cos, c.sin);
      let v = splitHeads(vp, numKvHeads, headDim);
      if (past) [k, v] = [tf.concat([past.k, k], 2) as tf.Tensor4D, tf.concat([past.v, v], 2) as tf.Tensor4D];
      const att = attentionForward(q, k, v, c.bias, scale);
      const x1 = tf.add(x, linear(mergeHeads(att.o), blk.o, blk.ob));
      const gu = linear(fused.rmsNorm(x1, blk.postNorm, eps), blk.gateUp, blk.gateUpB);
      const y = tf.add(x1, linear(gated(gu), blk.down, blk.downB));
      return { y, k, v, saved: [x, q, k, v, att.saved.p, x1, gu, c.cos, c.sin] };
    };
    const blockBackward = (blk: Block, dy: tf.Tensor, [x, q, k, v, p, x1, gu, cosT, sinT]: tf.Tensor[]) => {
      const [cos, sin] = [cosT as tf.Tensor2D, sinT as tf.Tensor2D];
      const dgu = gatedGrad(gu, linearBackward(dy, blk.down));
      const dx1 = tf.add(dy, fused.rmsNormGrad(linearBackward(dgu, blk.gateUp), x1, blk.postNorm, eps));
      const dO = splitHeads(linearBackward(dx1, blk.o), numHeads, headDim);
      const saved = { q: q as tf.Tensor4D, k: k as tf.Tensor4D, v: v as tf.Tensor4D, p: p as tf.Tensor3D };
      const [dq, dk, dv] = attentionBackward(dO, saved, scale);
      const dqkv = tf.concat([mergeHeads(fused.ropeGrad(dq, cos, sin)), mergeHeads(fused.ropeGrad(dk, cos, sin)), mergeHeads(dv)], 2);
      return tf.add(dx1, fused.rmsNormGrad(linearBackward(dqkv, blk.qkv), x, blk.inNorm, eps));
    };

    return {
      config,
      embeddings: embedTokens,
      parameterCount: w.parameterCount,
      weightBytes: w.weightBytes,
      embed: (ids) => embedTokens.embed(ids),
      forward(embeds: tf.Tensor3D, mask: number[][], options: ForwardOptions = {}): ForwardOutput {
        const { T, past } = forwardSpan(embeds, mask, options, what, { max: contextLength, field: 'max_position_embeddings' });
        const [cos, sin] = ropeTables(inv, past, T);
        const c: Context = { cos, sin, bias: causalBias(mask, T) };
        const { x, keys, values } = runBlocks(blocks, embeds, options, (blk, _i, input, past) => runBlock(blk, input, c, past), (blk, _i, dy, saved) => blockBackward(blk, dy, saved));
        const hidden = rmsNorm(x, norm, eps) as tf.Tensor3D;
        return { hidden, cache: options.useCache ? nextCache(mask, keys, values) : undefined };
      },
      head,
      logits: (hidden) => head.scores(hidden),
      dispose: () => w.dispose(),
    };
  } catch (e) {
    w.dispose();
    throw e;
  }
}
