// The RoPE decoder block most families share (Llama, Qwen2/3, Mistral, Phi-3, OLMo 2, Gemma 1-3),
// forward and hand-written backward, with the per-family differences as options: which norms sit
// where (pre, post or both), q/k norms per head or over the full width, (1 + w) norm weights,
// sliding windows and RoPE tables per layer, the attention scale, attention logit soft-capping,
// and the gated MLP's activation. Each family file reads its config and weight names and calls
// buildDecoder; the numbers follow each family's transformers modeling code in float32.
import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM, ForwardOptions, ForwardOutput, LinearModule, ModelConfig } from './model.ts';
import type { BlockAdapter, Parts } from './block-adapter.ts';
import type { WeightStore } from '../io/checkpoint.ts';
import { ModelConfigError, WeightLoader, causalBias, forwardSpan, nextCache, numberField, optionalId, positiveInt, runBlocks, tokenIds, type BlockRun } from './layers.ts';
import { ropeInverseFrequencies } from './rope-config.ts';
import type { EmbeddingTable } from './embedding-table.ts';
import { ACTIVATIONS, type Activation } from '../ops/activations.ts';
import { attentionBackward, attentionForward, attentionProbsShape, mergeHeads, splitHeads, type AttentionSaved } from '../ops/attention.ts';
import { dropout, dropoutRate, restoreMasks, savedMasks, type Dropout } from '../ops/dropout.ts';
import type { Weight } from '../ops/weight.ts';
import * as fused from '../ops/fused.ts';
import { rmsNorm } from '../ops/norms.ts';
import { ropeTables } from '../ops/rope.ts';

/** One block's frozen weights; null where the family has no such piece. Matrices are [in, out]. */
export interface DecoderBlock {
  /** Norm before attention (input_layernorm); null in OLMo 2. */
  inNorm: tf.Tensor1D | null;
  qkv: Weight;
  qkvB: tf.Tensor1D | null;
  /** q/k RMSNorm weights: [headDim] ('head') or [heads * headDim] ('full'). */
  qNorm: tf.Tensor1D | null;
  kNorm: tf.Tensor1D | null;
  o: Weight;
  ob: tf.Tensor1D | null;
  /** Norm on the attention output before the residual add (Gemma 2/3, OLMo 2). */
  postAttnNorm: tf.Tensor1D | null;
  /** Norm before the MLP (Llama's post_attention_layernorm, Gemma 2/3's pre_feedforward_layernorm). */
  preMlpNorm: tf.Tensor1D | null;
  gateUp: Weight;
  gateUpB: tf.Tensor1D | null;
  down: Weight;
  downB: tf.Tensor1D | null;
  /** Norm on the MLP output before the residual add (Gemma 2/3, OLMo 2). */
  postMlpNorm: tf.Tensor1D | null;
}

export interface DecoderLayer {
  /** Keys further back than this many positions are masked (sliding-window attention), or null. */
  window: number | null;
  /** Inverse RoPE frequencies of this layer; layers sharing one array share the tables. */
  inv: Float32Array;
}

export interface DecoderSpec {
  config: ModelConfig;
  eps: number;
  act: Activation;
  qkNorm: 'head' | 'full' | null;
  /** softmax(scale · q·k), 1/sqrt(head_dim) unless the family says otherwise. */
  scale: number;
  /** cap · tanh(scores / cap) before the mask (Gemma 2's attn_logit_softcapping), or null. */
  attnSoftcap: number | null;
  /** cap · tanh(logits / cap) on the LM head (final_logit_softcapping), or null. */
  logitSoftcap: number | null;
  /** Token embeddings are multiplied by this (Gemma: sqrt(hidden) in float32), or null. */
  embedScale: number | null;
  /** Training-mode dropout rates (0: none): see decoderDropout. */
  dropout: DecoderDropout;
  layers: DecoderLayer[];
  blocks: DecoderBlock[];
  /** Phi-3 keeps one qkv_proj and one gate_up_proj module; the others q/k/v and gate/up. */
  fusedProjections: boolean;
  embedTokens: EmbeddingTable;
  head: EmbeddingTable;
  norm: tf.Tensor1D;
}

/** Layer types from config.json's layer_types (transformers 5 writes them), checked, or null. */
export function layerTypes(raw: Record<string, unknown>, numLayers: number, what: string): ('full_attention' | 'sliding_attention')[] | null {
  const v = raw.layer_types;
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v) || v.length !== numLayers || v.some((t) => t !== 'full_attention' && t !== 'sliding_attention')) {
    throw new ModelConfigError(`${what}: config.json "layer_types" must list "full_attention" or "sliding_attention" for each of the ${numLayers} layers, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** A positive window from config.json's sliding_window, or null when unset. */
export function slidingWindow(raw: Record<string, unknown>, what: string): number | null {
  const v = raw.sliding_window;
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new ModelConfigError(`${what}: config.json "sliding_window" must be a positive integer or null, got ${JSON.stringify(v)}`);
  return v;
}

/** A soft-capping value from config.json, or null when unset. */
export function softcap(raw: Record<string, unknown>, field: string, what: string): number | null {
  const v = raw[field];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !(v > 0)) throw new ModelConfigError(`${what}: config.json "${field}" must be a positive number or null, got ${JSON.stringify(v)}`);
  return v;
}

/** Refuses config fields that would change the numbers and that this family file does not implement. */
export function refuseFields(raw: Record<string, unknown>, what: string, fields: Record<string, (v: unknown) => boolean>): void {
  for (const [field, harmless] of Object.entries(fields)) {
    const v = raw[field];
    if (v !== undefined && !harmless(v)) throw new ModelConfigError(`${what}: config.json "${field}" ${JSON.stringify(v)} is not supported`);
  }
}

/** Loads a norm weight; Gemma's norms scale by (1 + w), formed once here in float32 as transformers does per call. */
export function normWeight(w: WeightLoader, name: string, n: number, plusOne: boolean): tf.Tensor1D {
  const t = w.load(name, [n]) as tf.Tensor1D;
  return plusOne ? (w.replace(t, (x) => tf.add(x, 1)) as tf.Tensor1D) : t;
}

/** Where transformers' RoPE decoders drop out in training: the attention probabilities, and (Phi-3) both residual branches. */
export interface DecoderDropout {
  attention: number;
  residual: number;
}

/** The config's dropout rates: attention_dropout for every family, and `residualField` where the family has one (Phi-3's resid_pdrop). */
export function decoderDropout(raw: Record<string, unknown>, what: string, residualField: string | null = null): DecoderDropout {
  return { attention: dropoutRate(raw, 'attention_dropout', what), residual: residualField ? dropoutRate(raw, residualField, what) : 0 };
}

const isSiluAct = (act: Activation) => act === ACTIVATIONS.silu || act === ACTIVATIONS.swish;

export function buildDecoder(spec: DecoderSpec, w: WeightLoader): CausalLM {
  const { config, eps, act, qkNorm, scale, attnSoftcap, logitSoftcap, embedScale, layers, blocks, embedTokens, head, norm } = spec;
  const { attention: attnDrop, residual: residDrop } = spec.dropout;
  const { numHeads, numKvHeads, headDim, contextLength, modelType: what } = config;
  const qSize = numHeads * headDim;
  const kvSize = numKvHeads * headDim;
  const isSilu = isSiluAct(act);
  const { hiddenSize: H, intermediateSize: F } = config;
  // The modules (PEFT's names) behind each fused matrix, and their widths.
  const a = 'self_attn.';
  const parts = {
    qkv: (spec.fusedProjections
      ? [[a + 'qkv_proj', qSize + 2 * kvSize]]
      : [
          [a + 'q_proj', qSize],
          [a + 'k_proj', kvSize],
          [a + 'v_proj', kvSize],
        ]) as Parts,
    o: [[a + 'o_proj', H]] as Parts,
    gateUp: (spec.fusedProjections
      ? [['mlp.gate_up_proj', 2 * F]]
      : [
          ['mlp.gate_proj', F],
          ['mlp.up_proj', F],
        ]) as Parts,
    down: [['mlp.down_proj', H]] as Parts,
  };
  const inputs: [Parts, number][] = [
    [parts.qkv, H],
    [parts.o, qSize],
    [parts.gateUp, H],
    [parts.down, F],
  ];
  const shapes = inputs.flatMap(([ps, inFeatures]) => ps.map(([key, out]) => [key, inFeatures, out] as const));
  const modules: LinearModule[] = layers
    .map((_, layer) => shapes.map(([key, inFeatures, outFeatures]) => ({ path: `model.layers.${layer}.${key}`, layer, key, name: key.split('.').pop()!, inFeatures, outFeatures })))
    .flat();
  // act(gate) ⊙ up for gu = [gate | up]: SiLU takes the fused kernel, the rest the generic pair.
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
  const norm1 = (x: tf.Tensor, wt: tf.Tensor1D | null) => (wt ? fused.rmsNorm(x, wt, eps) : x);
  const norm1Grad = (dy: tf.Tensor, x: tf.Tensor, wt: tf.Tensor1D | null) => (wt ? fused.rmsNormGrad(dy, x, wt, eps) : dy);

  interface Context {
    /** cos/sin per layer (shared arrays for layers with the same frequencies). */
    rope: [tf.Tensor2D, tf.Tensor2D][];
    bias: tf.Tensor[];
    /** Training steps only: this step's seeded dropout masks. */
    drop?: Dropout;
  }
  // Saved for the backward pass (tensors made outside the block are gone when it runs, so the
  // rope tables are saved too): x q k v p x1 gu cos sin, then where used: qPre kPre a m t, then
  // the dropout masks drawn (attention, attention residual, MLP residual).
  const runBlock = (blk: DecoderBlock, i: number, x: tf.Tensor, c: Context, ad: BlockAdapter): BlockRun => {
    const [cos, sin] = c.rope[i];
    const qkvParts = tf.split(ad.linear(norm1(x, blk.inNorm), blk.qkv, blk.qkvB, parts.qkv), [qSize, kvSize, kvSize], 2);
    const vp = qkvParts[2];
    let [qp, kp] = qkvParts;
    const qFull = qp;
    const kFull = kp;
    if (qkNorm === 'full') [qp, kp] = [fused.rmsNorm(qp, blk.qNorm!, eps), fused.rmsNorm(kp, blk.kNorm!, eps)];
    let qh = splitHeads(qp, numHeads, headDim);
    let kh = splitHeads(kp, numKvHeads, headDim);
    const qHead = qh;
    const kHead = kh;
    if (qkNorm === 'head') [qh, kh] = [fused.rmsNorm(qh, blk.qNorm!, eps) as tf.Tensor4D, fused.rmsNorm(kh, blk.kNorm!, eps) as tf.Tensor4D];
    const q = fused.rope(qh, cos, sin);
    // Past keys (a cache, or prefix tuning's prefix) are already rotated or, for a prefix, never are (as in PEFT).
    const [k, v] = ad.withPast(fused.rope(kh, cos, sin), splitHeads(vp, numKvHeads, headDim));
    const mAttn = c.drop?.mask(attentionProbsShape(q, k), attnDrop) ?? null;
    const att = attentionForward(q, k, v, c.bias[i], scale, attnSoftcap, mAttn);
    const a = ad.linear(mergeHeads(att.o), blk.o, blk.ob, parts.o);
    const mRes1 = c.drop?.mask(a.shape, residDrop) ?? null;
    const x1 = tf.add(x, dropout(norm1(a, blk.postAttnNorm), mRes1));
    const gu = ad.linear(norm1(x1, blk.preMlpNorm), blk.gateUp, blk.gateUpB, parts.gateUp);
    const m = ad.linear(gated(gu), blk.down, blk.downB, parts.down);
    const mRes2 = c.drop?.mask(m.shape, residDrop) ?? null;
    const y = tf.add(x1, dropout(norm1(m, blk.postMlpNorm), mRes2));
    const saved = [x, q, k, v, att.saved.p, x1, gu, cos, sin];
    if (qkNorm === 'full') saved.push(qFull, kFull);
    if (qkNorm === 'head') saved.push(qHead, kHead);
    if (blk.postAttnNorm) saved.push(a);
    if (blk.postMlpNorm) saved.push(m);
    if (att.saved.t) saved.push(att.saved.t);
    saved.push(...savedMasks([mAttn, mRes1, mRes2]));
    return { y, k, v, saved };
  };
  const blockBackward = (blk: DecoderBlock, dy: tf.Tensor, saved: tf.Tensor[], ad: BlockAdapter) => {
    const [x, q, k, v, p, x1, gu, cosT, sinT] = saved;
    let at = 9;
    const qPre = qkNorm ? saved[at++] : null;
    const kPre = qkNorm ? saved[at++] : null;
    const a = blk.postAttnNorm ? saved[at++] : null;
    const m = blk.postMlpNorm ? saved[at++] : null;
    const t = attnSoftcap !== null ? (saved[at++] as tf.Tensor3D) : undefined;
    const [mAttn, mRes1, mRes2] = restoreMasks(saved.slice(at), [attnDrop, residDrop, residDrop]);
    const [cos, sin] = [cosT as tf.Tensor2D, sinT as tf.Tensor2D];
    const dyM = dropout(dy, mRes2);
    const dm = m ? fused.rmsNormGrad(dyM, m, blk.postMlpNorm!, eps) : dyM;
    const dgu = gatedGrad(gu, ad.linearBackward(dm, blk.down, parts.down));
    const dx1 = tf.add(dy, norm1Grad(ad.linearBackward(dgu, blk.gateUp, parts.gateUp), x1, blk.preMlpNorm));
    const dx1A = dropout(dx1, mRes1);
    const da = a ? fused.rmsNormGrad(dx1A, a, blk.postAttnNorm!, eps) : dx1A;
    const dO = splitHeads(ad.linearBackward(da, blk.o, parts.o), numHeads, headDim);
    const attSaved: AttentionSaved = { q: q as tf.Tensor4D, k: k as tf.Tensor4D, v: v as tf.Tensor4D, p: p as tf.Tensor3D, t, mask: (mAttn as tf.Tensor3D | null) ?? undefined };
    const [dq, dkAll, dvAll] = attentionBackward(dO, attSaved, scale, attnSoftcap);
    const [dk, dv] = ad.splitPastGrads(dkAll, dvAll);
    let dqh = fused.ropeGrad(dq, cos, sin);
    let dkh = fused.ropeGrad(dk, cos, sin);
    if (qkNorm === 'head') [dqh, dkh] = [fused.rmsNormGrad(dqh, qPre!, blk.qNorm!, eps) as tf.Tensor4D, fused.rmsNormGrad(dkh, kPre!, blk.kNorm!, eps) as tf.Tensor4D];
    let dqm: tf.Tensor = mergeHeads(dqh);
    let dkm: tf.Tensor = mergeHeads(dkh);
    if (qkNorm === 'full') [dqm, dkm] = [fused.rmsNormGrad(dqm, qPre!, blk.qNorm!, eps), fused.rmsNormGrad(dkm, kPre!, blk.kNorm!, eps)];
    const dqkv = tf.concat([dqm, dkm, mergeHeads(dv)], 2);
    return tf.add(dx1, norm1Grad(ad.linearBackward(dqkv, blk.qkv, parts.qkv), x, blk.inNorm));
  };

  // Distinct frequency arrays and windows, so layers that share them share tables and biases.
  const invs = [...new Set(layers.map((l) => l.inv))];
  const windows = [...new Set(layers.map((l) => l.window))];
  // Gemma multiplies the gathered rows by sqrt(hidden) cast to the weights' dtype (float32).
  const scaleF32 = embedScale === null ? null : Math.fround(embedScale);
  const embed = (ids: number[][]) => {
    const e = embedTokens.embed(ids);
    return scaleF32 === null ? e : (tf.mul(e, scaleF32) as tf.Tensor3D);
  };
  const capLogits = (l: tf.Tensor2D) => (logitSoftcap === null ? l : (tf.mul(tf.tanh(tf.div(l, logitSoftcap)), logitSoftcap) as tf.Tensor2D));

  return {
    config,
    embeddings: embedTokens,
    embedScale: scaleF32 ?? undefined,
    logitSoftcap,
    modules,
    parameterCount: w.parameterCount,
    weightBytes: w.weightBytes,
    embed,
    forward(embeds: tf.Tensor3D, mask: number[][], options: ForwardOptions = {}): ForwardOutput {
      const { T, past, positions } = forwardSpan(embeds, mask, options, what, { max: contextLength, field: 'max_position_embeddings' });
      const tables = new Map(invs.map((inv) => [inv, ropeTables(inv, past, T, positions)]));
      const biases = new Map(windows.map((win) => [win, causalBias(mask, T, win, positions ?? undefined, options.segments)]));
      const c: Context = { rope: layers.map((l) => tables.get(l.inv)!), bias: layers.map((l) => biases.get(l.window)!), drop: options.dropout };
      const { x, keys, values } = runBlocks(
        blocks,
        embeds,
        options,
        (blk, i, input, ad) => runBlock(blk, i, input, c, ad),
        (blk, _i, dy, saved, ad) => blockBackward(blk, dy, saved, ad),
      );
      const hidden = rmsNorm(x, norm, eps) as tf.Tensor3D;
      return { hidden, cache: options.useCache ? nextCache(mask, keys, values) : undefined };
    },
    head,
    logits: (hidden) => capLogits(head.scores(hidden)),
    dispose: () => w.dispose(),
  };
}

/** The sizes of a Llama-style config.json (every RoPE family here uses these field names). */
export function decoderConfig(raw: Record<string, unknown>, family: string): ModelConfig {
  const what = String(raw.model_type);
  const hidden = positiveInt(raw, ['hidden_size'], what);
  const heads = positiveInt(raw, ['num_attention_heads'], what);
  const kvHeads = positiveInt(raw, ['num_key_value_heads'], what, heads);
  if (heads % kvHeads) throw new ModelConfigError(`${what}: num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}`);
  const headDim = positiveInt(raw, ['head_dim'], what, Math.floor(hidden / heads));
  if (headDim % 2) throw new ModelConfigError(`${what}: head_dim ${headDim} must be even for rotary embeddings`);
  return {
    family,
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

/** Where a family keeps each piece of a block (names after `model.layers.N.`), and its biases. */
export interface BlockLayout {
  inNorm: string | null;
  postAttnNorm: string | null;
  preMlpNorm: string | null;
  postMlpNorm: string | null;
  /** q_norm / k_norm names, sized by `qkNorm` ('head': [head_dim], 'full': [heads * head_dim]). */
  qkNorm: 'head' | 'full' | null;
  /** Phi-3: one qkv_proj and one gate_up_proj matrix. */
  fusedProjections: boolean;
  qkvBias: boolean;
  oBias: boolean;
  mlpBias: boolean;
  /** Gemma: norms scale by (1 + w). */
  plusOneNorms: boolean;
}

export interface FamilyOptions {
  layout: BlockLayout;
  eps: number;
  act: Activation;
  scale: number;
  attnSoftcap: number | null;
  logitSoftcap: number | null;
  embedScale: number | null;
  dropout: DecoderDropout;
  layers: DecoderLayer[];
}

/** Loads the weights of a RoPE decoder in transformers' names and builds it. */
export function buildRopeDecoder(config: ModelConfig, store: WeightStore, o: FamilyOptions): CausalLM {
  const { hiddenSize: H, numLayers, numHeads, numKvHeads, headDim, intermediateSize: F, vocabSize, modelType: what } = config;
  const L = o.layout;
  const w = new WeightLoader(store, what);
  // HF Linear weights are [out, in]; they are stored transposed so every matmul is x · W.
  const lin = (name: string, out: number, inp: number) => w.matrix(name, [out, inp], true);
  const vec = (name: string, n: number) => w.load(name, [n]) as tf.Tensor1D;
  const normOf = (name: string | null, p: string, n: number) => (name ? normWeight(w, p + name, n, L.plusOneNorms) : null);
  const qSize = numHeads * headDim;
  const kvSize = numKvHeads * headDim;
  try {
    const embedTokens = w.table('model.embed_tokens.weight', vocabSize, H);
    const blocks: DecoderBlock[] = [];
    for (let i = 0; i < numLayers; i++) {
      const p = `model.layers.${i}.`;
      const a = p + 'self_attn.';
      const qkv = L.fusedProjections
        ? lin(a + 'qkv_proj.weight', qSize + 2 * kvSize, H)
        : w.fuse([lin(a + 'q_proj.weight', qSize, H), lin(a + 'k_proj.weight', kvSize, H), lin(a + 'v_proj.weight', kvSize, H)]);
      const qkvB = !L.qkvBias
        ? null
        : L.fusedProjections
          ? vec(a + 'qkv_proj.bias', qSize + 2 * kvSize)
          : (w.fuse([vec(a + 'q_proj.bias', qSize), vec(a + 'k_proj.bias', kvSize), vec(a + 'v_proj.bias', kvSize)]) as tf.Tensor1D);
      const gateUp = L.fusedProjections ? lin(p + 'mlp.gate_up_proj.weight', 2 * F, H) : w.fuse([lin(p + 'mlp.gate_proj.weight', F, H), lin(p + 'mlp.up_proj.weight', F, H)]);
      const gateUpB = !L.mlpBias ? null : L.fusedProjections ? vec(p + 'mlp.gate_up_proj.bias', 2 * F) : (w.fuse([vec(p + 'mlp.gate_proj.bias', F), vec(p + 'mlp.up_proj.bias', F)]) as tf.Tensor1D);
      const qn = L.qkNorm === 'head' ? headDim : qSize;
      const kn = L.qkNorm === 'head' ? headDim : kvSize;
      blocks.push({
        inNorm: normOf(L.inNorm, p, H),
        qkv,
        qkvB,
        qNorm: L.qkNorm ? normWeight(w, a + 'q_norm.weight', qn, L.plusOneNorms) : null,
        kNorm: L.qkNorm ? normWeight(w, a + 'k_norm.weight', kn, L.plusOneNorms) : null,
        o: lin(a + 'o_proj.weight', H, qSize),
        ob: L.oBias ? vec(a + 'o_proj.bias', H) : null,
        postAttnNorm: normOf(L.postAttnNorm, p, H),
        preMlpNorm: normOf(L.preMlpNorm, p, H),
        gateUp,
        gateUpB,
        down: lin(p + 'mlp.down_proj.weight', H, F),
        downB: L.mlpBias ? vec(p + 'mlp.down_proj.bias', H) : null,
        postMlpNorm: normOf(L.postMlpNorm, p, H),
      });
    }
    const norm = normWeight(w, 'model.norm.weight', H, L.plusOneNorms);
    let head = embedTokens;
    if (!config.tieWordEmbeddings) {
      if (!w.has('lm_head.weight')) throw new ModelConfigError(`${what}: tie_word_embeddings is false but the checkpoint has no "lm_head.weight"`);
      head = w.table('lm_head.weight', vocabSize, H);
    }
    return buildDecoder(
      {
        config,
        eps: o.eps,
        act: o.act,
        qkNorm: L.qkNorm,
        scale: o.scale,
        attnSoftcap: o.attnSoftcap,
        logitSoftcap: o.logitSoftcap,
        embedScale: o.embedScale,
        dropout: o.dropout,
        layers: o.layers,
        blocks,
        fusedProjections: L.fusedProjections,
        embedTokens,
        head,
        norm,
      },
      w,
    );
  } catch (e) {
    w.dispose();
    throw e;
  }
}

/** Llama's block layout: pre-norms only, separate projections. */
export const LLAMA_LAYOUT: BlockLayout = {
  inNorm: 'input_layernorm.weight',
  postAttnNorm: null,
  preMlpNorm: 'post_attention_layernorm.weight',
  postMlpNorm: null,
  qkNorm: null,
  fusedProjections: false,
  qkvBias: false,
  oBias: false,
  mlpBias: false,
  plusOneNorms: false,
};

/**
 * Per-layer windows and RoPE frequencies for families with one RoPE: layer_types (or the
 * family's own rule, `sliding(i)`) mark the layers that take `sliding_window`.
 */
export function uniformLayers(raw: Record<string, unknown>, config: ModelConfig, sliding: ((i: number) => boolean) | null): DecoderLayer[] {
  const what = config.modelType;
  const inv = ropeInverseFrequencies(raw, config.headDim);
  const window = slidingWindow(raw, what);
  const types = layerTypes(raw, config.numLayers, what);
  return Array.from({ length: config.numLayers }, (_, i) => {
    const isSliding = types ? types[i] === 'sliding_attention' : sliding ? sliding(i) : false;
    if (isSliding && window === null) throw new ModelConfigError(`${what}: layer ${i} is a sliding_attention layer but config.json has no "sliding_window"`);
    return { window: isSliding ? window : null, inv };
  });
}

export function rmsEps(raw: Record<string, unknown>, what: string, fallback = 1e-6): number {
  return numberField(raw, ['rms_norm_eps'], what, fallback);
}
