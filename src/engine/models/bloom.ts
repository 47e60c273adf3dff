// BLOOM (bloom, bloomz): ALiBi position biases built from the attention mask, fused
// query_key_value laid out per head, LayerNorm on the input embeddings, tied LM head.
import * as tf from '@tensorflow/tfjs-core';
import type { WeightStore } from '../io/checkpoint.ts';
import type { CausalLM, ForwardOptions, ForwardOutput, ModelConfig } from './model.ts';
import {
  ModelConfigError, WeightLoader, attention, causalBias, checkMask, extendKV, geluTanh, layerNorm, linear, nextCache,
  numberField, optionalId, positiveInt, tokenIds,
} from './layers.ts';

interface Block {
  ln1: [tf.Tensor1D, tf.Tensor1D];
  qkvW: tf.Tensor2D;
  qkvB: tf.Tensor1D;
  denseW: tf.Tensor2D;
  denseB: tf.Tensor1D;
  ln2: [tf.Tensor1D, tf.Tensor1D];
  upW: tf.Tensor2D;
  upB: tf.Tensor1D;
  downW: tf.Tensor2D;
  downB: tf.Tensor1D;
}

const WHAT = 'bloom';

export function bloomConfig(raw: Record<string, unknown>): ModelConfig {
  const hidden = positiveInt(raw, ['hidden_size', 'n_embed'], WHAT);
  const heads = positiveInt(raw, ['n_head', 'num_attention_heads'], WHAT);
  if (hidden % heads) throw new ModelConfigError(`${WHAT}: hidden_size ${hidden} is not divisible by n_head ${heads}`);
  return {
    family: 'bloom',
    modelType: String(raw.model_type),
    hiddenSize: hidden,
    numLayers: positiveInt(raw, ['n_layer', 'num_hidden_layers'], WHAT),
    numHeads: heads,
    numKvHeads: heads,
    headDim: hidden / heads,
    intermediateSize: 4 * hidden,
    vocabSize: positiveInt(raw, ['vocab_size'], WHAT),
    // ALiBi has no hard position limit; the pretraining length is the useful one.
    contextLength: positiveInt(raw, ['seq_length', 'max_position_embeddings'], WHAT, 2048),
    bosTokenId: optionalId(raw.bos_token_id),
    eosTokenIds: tokenIds(raw.eos_token_id),
    padTokenId: optionalId(raw.pad_token_id),
    tieWordEmbeddings: raw.tie_word_embeddings !== false,
  };
}

/** ALiBi slopes per head, as transformers' build_alibi_tensor computes them. */
export function alibiSlopes(heads: number): Float32Array {
  const closest = 2 ** Math.floor(Math.log2(heads));
  const base = Math.fround(2 ** -(2 ** -(Math.log2(closest) - 3)));
  const slopes: number[] = [];
  for (let p = 1; p <= closest; p++) slopes.push(Math.fround(base ** p));
  if (closest !== heads) {
    const extraBase = Math.fround(2 ** -(2 ** -(Math.log2(2 * closest) - 3)));
    const remaining = Math.min(closest, heads - closest);
    for (let p = 1; p < 1 + 2 * remaining; p += 2) slopes.push(Math.fround(extraBase ** p));
  }
  return Float32Array.from(slopes);
}

/** ALiBi bias [B, heads, 1, S]: slope × (index of the key among the row's real tokens), 0 on padding. */
function alibiBias(mask: number[][], slopes: Float32Array): tf.Tensor4D {
  const B = mask.length;
  const S = mask[0].length;
  const heads = slopes.length;
  const out = new Float32Array(B * heads * S);
  for (let b = 0; b < B; b++) {
    let count = 0;
    const position = mask[b].map((m) => {
      count += m ? 1 : 0;
      return m ? count - 1 : 0;
    });
    for (let h = 0; h < heads; h++) for (let j = 0; j < S; j++) out[(b * heads + h) * S + j] = Math.fround(slopes[h] * position[j]);
  }
  return tf.tensor4d(out, [B, heads, 1, S]);
}

export function buildBloom(raw: Record<string, unknown>, store: WeightStore): CausalLM {
  const config = bloomConfig(raw);
  const { hiddenSize: H, numLayers, numHeads, headDim, vocabSize } = config;
  const eps = numberField(raw, ['layer_norm_epsilon'], WHAT, 1e-5);
  const residualAfterNorm = raw.apply_residual_connection_post_layernorm === true;
  const prefix = store.has('transformer.word_embeddings.weight') ? 'transformer.' : store.has('word_embeddings.weight') ? '' : null;
  if (prefix === null) throw new ModelConfigError(`${WHAT}: checkpoint has neither "transformer.word_embeddings.weight" nor "word_embeddings.weight"`);
  const w = new WeightLoader(store, WHAT);
  const vec = (name: string, n: number) => w.load(prefix + name, [n]) as tf.Tensor1D;
  const lin = (name: string, out: number, inp: number) => w.load(prefix + name, [out, inp], true) as tf.Tensor2D;
  const norm = (name: string): [tf.Tensor1D, tf.Tensor1D] => [vec(name + '.weight', H), vec(name + '.bias', H)];
  try {
    const wordEmbeddings = w.load(prefix + 'word_embeddings.weight', [vocabSize, H]) as tf.Tensor2D;
    const embNorm = norm('word_embeddings_layernorm');
    const blocks: Block[] = [];
    for (let i = 0; i < numLayers; i++) {
      const p = `h.${i}.`;
      blocks.push({
        ln1: norm(p + 'input_layernorm'),
        qkvW: lin(p + 'self_attention.query_key_value.weight', 3 * H, H),
        qkvB: vec(p + 'self_attention.query_key_value.bias', 3 * H),
        denseW: lin(p + 'self_attention.dense.weight', H, H),
        denseB: vec(p + 'self_attention.dense.bias', H),
        ln2: norm(p + 'post_attention_layernorm'),
        upW: lin(p + 'mlp.dense_h_to_4h.weight', 4 * H, H),
        upB: vec(p + 'mlp.dense_h_to_4h.bias', 4 * H),
        downW: lin(p + 'mlp.dense_4h_to_h.weight', H, 4 * H),
        downB: vec(p + 'mlp.dense_4h_to_h.bias', H),
      });
    }
    const lnf = norm('ln_f');
    const head = config.tieWordEmbeddings ? wordEmbeddings : (w.optional('lm_head.weight', [vocabSize, H]) as tf.Tensor2D | null) ?? wordEmbeddings;
    const slopes = alibiSlopes(numHeads);
    const scale = 1 / Math.sqrt(headDim);

    return {
      config,
      embeddings: wordEmbeddings,
      parameterCount: w.parameterCount,
      embed: (ids) => tf.gather(wordEmbeddings, ids) as unknown as tf.Tensor3D,
      forward(embeds: tf.Tensor3D, mask: number[][], options: ForwardOptions = {}): ForwardOutput {
        const [B, T] = embeds.shape;
        const past = options.cache?.length ?? 0;
        checkMask(mask, B, T, past);
        // The embedding LayerNorm applies to whatever is fed in, soft prompt included (as in BloomModel).
        let x: tf.Tensor = layerNorm(embeds, embNorm[0], embNorm[1], eps);
        const bias = tf.add(alibiBias(mask, slopes), causalBias(mask, T));
        const keys: tf.Tensor4D[] = [];
        const values: tf.Tensor4D[] = [];
        blocks.forEach((blk, i) => {
          const h = layerNorm(x, blk.ln1[0], blk.ln1[1], eps);
          const residual = residualAfterNorm ? h : x;
          // The fused projection's output is laid out [head][q|k|v][headDim].
          const fused = tf.reshape(linear(h, blk.qkvW, blk.qkvB), [B, T, numHeads, 3, headDim]);
          const [q, k, v] = tf.split(fused, 3, 3).map((t) => tf.transpose(tf.reshape(t, [B, T, numHeads, headDim]), [0, 2, 1, 3]) as tf.Tensor4D);
          const [kAll, vAll] = extendKV(options.cache, i, k, v);
          keys.push(kAll);
          values.push(vAll);
          const attnOut = tf.add(linear(attention(q, kAll, vAll, bias, scale), blk.denseW, blk.denseB), residual);
          const h2 = layerNorm(attnOut, blk.ln2[0], blk.ln2[1], eps);
          const residual2 = residualAfterNorm ? h2 : attnOut;
          x = tf.add(linear(geluTanh(linear(h2, blk.upW, blk.upB)), blk.downW, blk.downB), residual2);
        });
        const hidden = layerNorm(x, lnf[0], lnf[1], eps) as tf.Tensor3D;
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
