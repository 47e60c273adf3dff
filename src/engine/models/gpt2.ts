// GPT-2 (gpt2, distilgpt2, ...): learned positions, pre-LayerNorm blocks, fused c_attn, Conv1D
// weights stored [in, out], LM head tied to wte.
import * as tf from '@tensorflow/tfjs-core';
import type { WeightStore } from '../io/checkpoint.ts';
import type { CausalLM, ForwardOptions, ForwardOutput, LinearModule, ModelConfig } from './model.ts';
import type { BlockAdapter, Parts } from './block-adapter.ts';
import { ModelConfigError, WeightLoader, activation, causalBias, forwardSpan, nextCache, runBlocks, type BlockRun, numberField, optionalId, positiveInt, tokenIds } from './layers.ts';
import { attentionBackward, attentionForward, attentionProbsShape, mergeHeads, splitHeads } from '../ops/attention.ts';
import { dropout, dropoutRate, restoreMasks, savedMasks, type Dropout } from '../ops/dropout.ts';
import type { Weight } from '../ops/weight.ts';
import * as fused from '../ops/fused.ts';
import { layerNorm } from '../ops/norms.ts';

interface Block {
  ln1: [tf.Tensor1D, tf.Tensor1D];
  attnW: Weight;
  attnB: tf.Tensor1D;
  projW: Weight;
  projB: tf.Tensor1D;
  ln2: [tf.Tensor1D, tf.Tensor1D];
  fcW: Weight;
  fcB: tf.Tensor1D;
  outW: Weight;
  outB: tf.Tensor1D;
}

const WHAT = 'gpt2';

/** The block's projections (Conv1D layers, [in, out]) as PEFT names them under transformer.h.N. */
function gpt2Modules(config: ModelConfig): LinearModule[] {
  const { hiddenSize: H, intermediateSize: F, numLayers } = config;
  const shapes: [string, number, number][] = [
    ['attn.c_attn', H, 3 * H],
    ['attn.c_proj', H, H],
    ['mlp.c_fc', H, F],
    ['mlp.c_proj', F, H],
  ];
  return Array.from({ length: numLayers }, (_, layer) =>
    shapes.map(([key, inFeatures, outFeatures]) => ({ path: `transformer.h.${layer}.${key}`, layer, key, name: key.split('.').pop()!, inFeatures, outFeatures })),
  ).flat();
}

export function gpt2Config(raw: Record<string, unknown>): ModelConfig {
  const hidden = positiveInt(raw, ['n_embd', 'hidden_size'], WHAT);
  const heads = positiveInt(raw, ['n_head', 'num_attention_heads'], WHAT);
  if (hidden % heads) throw new ModelConfigError(`${WHAT}: n_embd ${hidden} is not divisible by n_head ${heads}`);
  return {
    family: 'gpt2',
    modelType: String(raw.model_type),
    hiddenSize: hidden,
    numLayers: positiveInt(raw, ['n_layer', 'num_hidden_layers'], WHAT),
    numHeads: heads,
    numKvHeads: heads,
    headDim: hidden / heads,
    intermediateSize: positiveInt(raw, ['n_inner'], WHAT, 4 * hidden),
    vocabSize: positiveInt(raw, ['vocab_size'], WHAT),
    contextLength: positiveInt(raw, ['n_positions', 'n_ctx', 'max_position_embeddings'], WHAT),
    bosTokenId: optionalId(raw.bos_token_id),
    eosTokenIds: tokenIds(raw.eos_token_id),
    padTokenId: optionalId(raw.pad_token_id),
    tieWordEmbeddings: raw.tie_word_embeddings !== false,
  };
}

export function buildGpt2(raw: Record<string, unknown>, store: WeightStore): CausalLM {
  const config = gpt2Config(raw);
  const { hiddenSize: H, numLayers, numHeads, headDim, intermediateSize: F, vocabSize, contextLength } = config;
  const eps = numberField(raw, ['layer_norm_epsilon'], WHAT, 1e-5);
  const act = activation(String(raw.activation_function ?? 'gelu_new'), WHAT);
  const scaleWeights = raw.scale_attn_weights !== false;
  const inverseLayerIdx = raw.scale_attn_by_inverse_layer_idx === true;
  // Training-mode dropout (GPT2Config defaults 0.1): embeddings, attention probabilities, both residual branches.
  const [embdDrop, attnDrop, residDrop] = ['embd_pdrop', 'attn_pdrop', 'resid_pdrop'].map((f) => dropoutRate(raw, f, WHAT, 0.1));
  const blockRates = [attnDrop, residDrop, residDrop];
  // Hub gpt2 checkpoints have no "transformer." prefix; save_pretrained writes it.
  const prefix = store.has('transformer.wte.weight') ? 'transformer.' : store.has('wte.weight') ? '' : null;
  if (prefix === null) throw new ModelConfigError(`${WHAT}: checkpoint has neither "transformer.wte.weight" nor "wte.weight"`);
  const w = new WeightLoader(store, WHAT);
  const v1 = (name: string, n: number) => w.load(prefix + name, [n]) as tf.Tensor1D;
  const m2 = (name: string, r: number, c: number) => w.matrix(prefix + name, [r, c]);
  try {
    const wte = w.table(prefix + 'wte.weight', vocabSize, H);
    const wpe = w.load(prefix + 'wpe.weight', [contextLength, H]) as tf.Tensor2D;
    const blocks: Block[] = [];
    for (let i = 0; i < numLayers; i++) {
      const p = `h.${i}.`;
      blocks.push({
        ln1: [v1(p + 'ln_1.weight', H), v1(p + 'ln_1.bias', H)],
        attnW: m2(p + 'attn.c_attn.weight', H, 3 * H),
        attnB: v1(p + 'attn.c_attn.bias', 3 * H),
        projW: m2(p + 'attn.c_proj.weight', H, H),
        projB: v1(p + 'attn.c_proj.bias', H),
        ln2: [v1(p + 'ln_2.weight', H), v1(p + 'ln_2.bias', H)],
        fcW: m2(p + 'mlp.c_fc.weight', H, F),
        fcB: v1(p + 'mlp.c_fc.bias', F),
        outW: m2(p + 'mlp.c_proj.weight', F, H),
        outB: v1(p + 'mlp.c_proj.bias', H),
      });
    }
    const lnf: [tf.Tensor1D, tf.Tensor1D] = [v1('ln_f.weight', H), v1('ln_f.bias', H)];
    const head = !config.tieWordEmbeddings && w.has('lm_head.weight') ? w.table('lm_head.weight', vocabSize, H) : wte;

    const parts = { attn: [['attn.c_attn', 3 * H]], proj: [['attn.c_proj', H]], fc: [['mlp.c_fc', F]], out: [['mlp.c_proj', H]] } satisfies Record<string, Parts>;
    const scaleOf = (i: number) => (scaleWeights ? 1 / Math.sqrt(headDim) : 1) / (inverseLayerIdx ? i + 1 : 1);
    // Saved for the backward pass, in this order: x q k v p x1 pre-activation, then the dropout masks drawn.
    const runBlock = (blk: Block, i: number, x: tf.Tensor, bias: tf.Tensor, ad: BlockAdapter, drop?: Dropout): BlockRun => {
      const [qp, kp, vp] = tf.split(ad.linear(fused.layerNorm(x, blk.ln1[0], blk.ln1[1], eps), blk.attnW, blk.attnB, parts.attn), 3, 2);
      const q = splitHeads(qp, numHeads, headDim);
      const [k, v] = ad.withPast(splitHeads(kp, numHeads, headDim), splitHeads(vp, numHeads, headDim));
      const mAttn = drop?.mask(attentionProbsShape(q, k), attnDrop) ?? null;
      const att = attentionForward(q, k, v, bias, scaleOf(i), null, mAttn);
      const proj = ad.linear(mergeHeads(att.o), blk.projW, blk.projB, parts.proj);
      const mProj = drop?.mask(proj.shape, residDrop) ?? null;
      const x1 = tf.add(x, dropout(proj, mProj));
      const pre = ad.linear(fused.layerNorm(x1, blk.ln2[0], blk.ln2[1], eps), blk.fcW, blk.fcB, parts.fc);
      const out = ad.linear(act.forward(pre), blk.outW, blk.outB, parts.out);
      const mOut = drop?.mask(out.shape, residDrop) ?? null;
      const y = tf.add(x1, dropout(out, mOut));
      return { y, k, v, saved: [x, q, k, v, att.saved.p, x1, pre, ...savedMasks([mAttn, mProj, mOut])] };
    };
    const blockBackward = (blk: Block, i: number, dy: tf.Tensor, [x, q, k, v, p, x1, pre, ...masks]: tf.Tensor[], ad: BlockAdapter) => {
      const [mAttn, mProj, mOut] = restoreMasks(masks, blockRates);
      const dpre = act.backward(ad.linearBackward(dropout(dy, mOut), blk.outW, parts.out), pre);
      const dx1 = tf.add(dy, fused.layerNormGrad(ad.linearBackward(dpre, blk.fcW, parts.fc), x1, blk.ln2[0], eps));
      const dO = splitHeads(ad.linearBackward(dropout(dx1, mProj), blk.projW, parts.proj), numHeads, headDim);
      const [dq, dkAll, dvAll] = attentionBackward(
        dO,
        { q: q as tf.Tensor4D, k: k as tf.Tensor4D, v: v as tf.Tensor4D, p: p as tf.Tensor3D, mask: (mAttn as tf.Tensor3D | null) ?? undefined },
        scaleOf(i),
      );
      const [dk, dv] = ad.splitPastGrads(dkAll, dvAll);
      const dqkv = tf.concat([mergeHeads(dq), mergeHeads(dk), mergeHeads(dv)], 2);
      return tf.add(dx1, fused.layerNormGrad(ad.linearBackward(dqkv, blk.attnW, parts.attn), x, blk.ln1[0], eps));
    };

    return {
      config,
      embeddings: wte,
      modules: gpt2Modules(config),
      parameterCount: w.parameterCount,
      weightBytes: w.weightBytes,
      embed: (ids) => wte.embed(ids),
      forward(embeds: tf.Tensor3D, mask: number[][], options: ForwardOptions = {}): ForwardOutput {
        const { T, past, positions } = forwardSpan(embeds, mask, options, WHAT, { max: contextLength, field: 'n_positions' });
        const ids = positions ? tf.tensor2d(positions, [positions.length, T], 'int32') : tf.range(past, past + T, 1, 'int32');
        const summed: tf.Tensor = tf.add(embeds, tf.gather(wpe, ids));
        const input = dropout(summed, options.dropout?.mask(summed.shape, embdDrop) ?? null);
        const bias = causalBias(mask, T, null, positions ?? undefined, options.segments);
        const { x, keys, values } = runBlocks(
          blocks,
          input,
          options,
          (blk, i, input, ad) => runBlock(blk, i, input, bias, ad, options.dropout),
          (blk, i, dy, saved, ad) => blockBackward(blk, i, dy, saved, ad),
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
