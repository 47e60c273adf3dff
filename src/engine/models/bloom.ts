// BLOOM (bloom, bloomz): ALiBi position biases built from the attention mask, fused
// query_key_value laid out per head, LayerNorm on the input embeddings, tied LM head.
import * as tf from '@tensorflow/tfjs-core';
import type { WeightStore } from '../io/checkpoint.ts';
import type { CausalLM, ForwardOptions, ForwardOutput, LinearModule, ModelConfig } from './model.ts';
import type { BlockAdapter, Parts } from './block-adapter.ts';
import { ModelConfigError, WeightLoader, causalBias, forwardSpan, nextCache, numberField, optionalId, positiveInt, runBlocks, sequencePositions, tokenIds, type BlockRun } from './layers.ts';
import { attentionBackward, attentionForward, attentionProbsShape, mergeHeads } from '../ops/attention.ts';
import { dropout, dropoutRate, restoreMasks, savedMasks, type Dropout } from '../ops/dropout.ts';
import type { Weight } from '../ops/weight.ts';
import * as fused from '../ops/fused.ts';
import { layerNorm } from '../ops/norms.ts';

interface Block {
  ln1: [tf.Tensor1D, tf.Tensor1D];
  qkvW: Weight;
  qkvB: tf.Tensor1D;
  denseW: Weight;
  denseB: tf.Tensor1D;
  ln2: [tf.Tensor1D, tf.Tensor1D];
  upW: Weight;
  upB: tf.Tensor1D;
  downW: Weight;
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

/**
 * ALiBi bias [B, heads, 1, S]: slope × (index of the key among the row's real tokens, in a packed
 * batch among its sequence's), 0 on padding.
 */
function alibiBias(mask: number[][], slopes: Float32Array, segments?: { key: number[] }): tf.Tensor4D {
  const B = mask.length;
  const S = mask[0].length;
  const heads = slopes.length;
  const out = new Float32Array(B * heads * S);
  for (let b = 0; b < B; b++) {
    const position = sequencePositions(mask[b], segments?.key ?? new Array<number>(S).fill(0));
    for (let h = 0; h < heads; h++) for (let j = 0; j < S; j++) out[(b * heads + h) * S + j] = Math.fround(slopes[h] * position[j]);
  }
  return tf.tensor4d(out, [B, heads, 1, S]);
}

export function buildBloom(raw: Record<string, unknown>, store: WeightStore): CausalLM {
  const config = bloomConfig(raw);
  const { hiddenSize: H, numLayers, numHeads, headDim, vocabSize } = config;
  const eps = numberField(raw, ['layer_norm_epsilon'], WHAT, 1e-5);
  const residualAfterNorm = raw.apply_residual_connection_post_layernorm === true;
  // Training-mode dropout: attention probabilities, and dropout_add on both residual branches.
  const attnDrop = dropoutRate(raw, 'attention_dropout', WHAT);
  const hiddenDrop = dropoutRate(raw, 'hidden_dropout', WHAT);
  const blockRates = [attnDrop, hiddenDrop, hiddenDrop];
  const prefix = store.has('transformer.word_embeddings.weight') ? 'transformer.' : store.has('word_embeddings.weight') ? '' : null;
  if (prefix === null) throw new ModelConfigError(`${WHAT}: checkpoint has neither "transformer.word_embeddings.weight" nor "word_embeddings.weight"`);
  const w = new WeightLoader(store, WHAT);
  const vec = (name: string, n: number) => w.load(prefix + name, [n]) as tf.Tensor1D;
  const lin = (name: string, out: number, inp: number) => w.matrix(prefix + name, [out, inp], true);
  const norm = (name: string): [tf.Tensor1D, tf.Tensor1D] => [vec(name + '.weight', H), vec(name + '.bias', H)];
  try {
    const wordEmbeddings = w.table(prefix + 'word_embeddings.weight', vocabSize, H);
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
    const head = !config.tieWordEmbeddings && w.has('lm_head.weight') ? w.table('lm_head.weight', vocabSize, H) : wordEmbeddings;
    const slopes = alibiSlopes(numHeads);
    const scale = 1 / Math.sqrt(headDim);
    const F = 4 * H;
    const shapes: [string, number, number][] = [
      ['self_attention.query_key_value', H, 3 * H],
      ['self_attention.dense', H, H],
      ['mlp.dense_h_to_4h', H, F],
      ['mlp.dense_4h_to_h', F, H],
    ];
    const modules: LinearModule[] = Array.from({ length: numLayers }, (_, layer) =>
      shapes.map(([key, inFeatures, outFeatures]) => ({ path: `transformer.h.${layer}.${key}`, layer, key, name: key.split('.').pop()!, inFeatures, outFeatures })),
    ).flat();
    const parts = Object.fromEntries(shapes.map(([key, , out]) => [key, [[key, out]]])) as Record<string, Parts>;

    // Saved for the backward pass, in this order: x q k v p x1 pre-activation, then the dropout masks drawn.
    const runBlock = (blk: Block, x: tf.Tensor, bias: tf.Tensor, ad: BlockAdapter, drop?: Dropout): BlockRun => {
      const [B, T] = x.shape;
      const n1 = fused.layerNorm(x, blk.ln1[0], blk.ln1[1], eps);
      // The fused projection's output is laid out [head][q|k|v][headDim].
      const qkv = tf.reshape(ad.linear(n1, blk.qkvW, blk.qkvB, parts['self_attention.query_key_value']), [B, T, numHeads, 3, headDim]);
      const heads = tf.split(qkv, 3, 3).map((t) => tf.transpose(tf.reshape(t, [B, T, numHeads, headDim]), [0, 2, 1, 3]) as tf.Tensor4D);
      const q = heads[0];
      const [k, v] = ad.withPast(heads[1], heads[2]);
      const mAttn = drop?.mask(attentionProbsShape(q, k), attnDrop) ?? null;
      const att = attentionForward(q, k, v, bias, scale, null, mAttn);
      const dense = ad.linear(mergeHeads(att.o), blk.denseW, blk.denseB, parts['self_attention.dense']);
      const mDense = drop?.mask(dense.shape, hiddenDrop) ?? null;
      const x1 = tf.add(dropout(dense, mDense), residualAfterNorm ? n1 : x);
      const n2 = fused.layerNorm(x1, blk.ln2[0], blk.ln2[1], eps);
      const pre = ad.linear(n2, blk.upW, blk.upB, parts['mlp.dense_h_to_4h']);
      const down = ad.linear(fused.geluTanh(pre), blk.downW, blk.downB, parts['mlp.dense_4h_to_h']);
      const mDown = drop?.mask(down.shape, hiddenDrop) ?? null;
      const y = tf.add(dropout(down, mDown), residualAfterNorm ? n2 : x1);
      return { y, k, v, saved: [x, q, k, v, att.saved.p, x1, pre, ...savedMasks([mAttn, mDense, mDown])] };
    };
    const blockBackward = (blk: Block, dy: tf.Tensor, [x, q, k, v, p, x1, pre, ...masks]: tf.Tensor[], ad: BlockAdapter) => {
      const [B, T] = dy.shape;
      const [mAttn, mDense, mDown] = restoreMasks(masks, blockRates);
      // With apply_residual_connection_post_layernorm the residual branches leave from the norms' outputs.
      let dn2 = ad.linearBackward(fused.geluTanhGrad(ad.linearBackward(dropout(dy, mDown), blk.downW, parts['mlp.dense_4h_to_h']), pre), blk.upW, parts['mlp.dense_h_to_4h']);
      if (residualAfterNorm) dn2 = tf.add(dn2, dy);
      let dx1 = fused.layerNormGrad(dn2, x1, blk.ln2[0], eps);
      if (!residualAfterNorm) dx1 = tf.add(dx1, dy);
      const dO = tf.transpose(tf.reshape(ad.linearBackward(dropout(dx1, mDense), blk.denseW, parts['self_attention.dense']), [B, T, numHeads, headDim]), [0, 2, 1, 3]) as tf.Tensor4D;
      const [dq, dkAll, dvAll] = attentionBackward(dO, { q: q as tf.Tensor4D, k: k as tf.Tensor4D, v: v as tf.Tensor4D, p: p as tf.Tensor3D, mask: (mAttn as tf.Tensor3D | null) ?? undefined }, scale);
      const dqkv = tf.reshape(
        tf.stack(
          [dq, ...ad.splitPastGrads(dkAll, dvAll)].map((g) => tf.transpose(g, [0, 2, 1, 3])),
          3,
        ),
        [B, T, 3 * H],
      );
      let dn1 = ad.linearBackward(dqkv, blk.qkvW, parts['self_attention.query_key_value']);
      if (residualAfterNorm) dn1 = tf.add(dn1, dx1);
      const dx = fused.layerNormGrad(dn1, x, blk.ln1[0], eps);
      return residualAfterNorm ? dx : tf.add(dx, dx1);
    };

    return {
      config,
      embeddings: wordEmbeddings,
      modules,
      parameterCount: w.parameterCount,
      weightBytes: w.weightBytes,
      embed: (ids) => wordEmbeddings.embed(ids),
      forward(embeds: tf.Tensor3D, mask: number[][], options: ForwardOptions = {}): ForwardOutput {
        // ALiBi has no hard position limit, and no position ids (options.positions): like
        // transformers' build_alibi_tensor it counts each row's real tokens in the mask.
        const { T } = forwardSpan(embeds, mask, options, WHAT);
        // The embedding LayerNorm applies to whatever is fed in, soft prompt included (as in BloomModel).
        const input = layerNorm(embeds, embNorm[0], embNorm[1], eps);
        const bias = tf.add(alibiBias(mask, slopes, options.segments), causalBias(mask, T, null, undefined, options.segments));
        const { x, keys, values } = runBlocks(
          blocks,
          input,
          options,
          (blk, _i, xi, ad) => runBlock(blk, xi, bias, ad, options.dropout),
          (blk, _i, dy, saved, ad) => blockBackward(blk, dy, saved, ad),
        );
        const hidden = layerNorm(x, lnf[0], lnf[1], eps) as tf.Tensor3D;
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
