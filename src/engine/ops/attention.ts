// Scaled dot-product attention with grouped key/value heads, forward and backward. Query head
// h reads key/value head floor(h / group), as transformers' repeat_kv does; the query heads of
// one kv head are stacked along rows, so k and v are never repeated.
import * as tf from '@tensorflow/tfjs-core';
import { hasKernel } from '../kernels/registry.ts';
import { attentionFlops, WASM_ATTENTION_GRAD_MAX_FLOPS, wasmAttentionMaxFlops } from '../kernels/wasm-loops.ts';
import { scaledSoftmax, scaledSoftmaxGrad } from './fused.ts';
import { bmm, bmmAT } from './matmul.ts';

export interface AttentionSaved {
  q: tf.Tensor4D;
  k: tf.Tensor4D;
  v: tf.Tensor4D;
  /** Attention probabilities [B * nkv, group * T, S]. */
  p: tf.Tensor3D;
  /** Dropout mask on the probabilities (training), same shape as p. */
  mask?: tf.Tensor3D;
  /** With soft-capping: tanh(scale · q·k / cap), same layout as p. */
  t?: tf.Tensor3D;
}

/** Shape of the attention probabilities (and of their dropout mask) for q [B, nh, T, hd] and k [B, nkv, S, hd]: [B * nkv, group * T, S], the element order of [B, nh, T, S]. */
export function attentionProbsShape(q: tf.Tensor4D, k: tf.Tensor4D): [number, number, number] {
  const [B, nh, T] = q.shape;
  const [, nkv, S] = k.shape;
  return [B * nkv, (nh / nkv) * T, S];
}

/** Whether WASM's loop kernel `name` runs for q and k: while the product is under the measured thresholds of kernels/wasm-loops.ts. */
function loopKernel(name: 'PtAttention' | 'PtAttentionGrad', q: tf.Tensor4D, k: tf.Tensor4D): boolean {
  if (tf.getBackend() !== 'wasm' || !hasKernel(name)) return false;
  return attentionFlops(q, k) <= (name === 'PtAttention' ? wasmAttentionMaxFlops(q.shape[3]) : WASM_ATTENTION_GRAD_MAX_FLOPS);
}

/**
 * q [B, nh, T, hd], k and v [B, nkv, S, hd], additive bias broadcastable to [B, nh, T, S] → [B, nh, T, hd].
 * With `softcap` (Gemma 2's attn_logit_softcapping) the scores are cap · tanh(scale · q·k / cap)
 * before the mask is added, as transformers' eager attention computes them. `dropMask` (training):
 * dropout on the probabilities after the softmax, as transformers' attention_dropout. The fused
 * kernels take neither.
 */
export function attentionForward(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  bias: tf.Tensor,
  scale: number,
  softcap: number | null = null,
  dropMask: tf.Tensor | null = null,
): { o: tf.Tensor4D; saved: AttentionSaved } {
  if (softcap === null && !dropMask && loopKernel('PtAttention', q, k) && bias.rank === 4) {
    const [o, p] = tf.engine().runKernel('PtAttention', { q, k, v, bias }, { scale }) as unknown as [tf.Tensor4D, tf.Tensor3D];
    return { o, saved: { q, k, v, p } };
  }
  const [B, nh, T, hd] = q.shape;
  const [, nkv, S] = k.shape;
  const G = B * nkv;
  const rows = (nh / nkv) * T;
  const scores = bmm(tf.reshape(q, [G, rows, hd]) as tf.Tensor3D, tf.reshape(k, [G, S, hd]) as tf.Tensor3D, true);
  let p: tf.Tensor3D;
  let t: tf.Tensor3D | undefined;
  if (softcap === null) {
    p = tf.reshape(scaledSoftmax(tf.reshape(scores, [B, nh, T, S]) as tf.Tensor4D, bias, scale), [G, rows, S]) as tf.Tensor3D;
  } else {
    t = tf.tanh(tf.div(tf.mul(scores, scale), softcap)) as tf.Tensor3D;
    p = tf.reshape(scaledSoftmax(tf.reshape(tf.mul(t, softcap), [B, nh, T, S]) as tf.Tensor4D, bias, 1), [G, rows, S]) as tf.Tensor3D;
  }
  const mask = dropMask ? (tf.reshape(dropMask, [G, rows, S]) as tf.Tensor3D) : undefined;
  const o = tf.reshape(bmm(mask ? tf.mul(p, mask) : p, tf.reshape(v, [G, S, hd]) as tf.Tensor3D), [B, nh, T, hd]) as tf.Tensor4D;
  const saved: AttentionSaved = { q, k, v, p };
  if (mask) saved.mask = mask;
  if (t) saved.t = t;
  return { o, saved };
}

export function attentionBackward(dO: tf.Tensor4D, { q, k, v, p, mask, t }: AttentionSaved, scale: number, softcap: number | null = null): [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D] {
  if (softcap === null && !mask && loopKernel('PtAttentionGrad', q, k))
    return tf.engine().runKernel('PtAttentionGrad', { dO, q, k, v, p }, { scale }) as unknown as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
  const [B, nh, T, hd] = q.shape;
  const [, nkv, S] = k.shape;
  const G = B * nkv;
  const rows = (nh / nkv) * T;
  const qg = tf.reshape(q, [G, rows, hd]) as tf.Tensor3D;
  const kg = tf.reshape(k, [G, S, hd]) as tf.Tensor3D;
  const vg = tf.reshape(v, [G, S, hd]) as tf.Tensor3D;
  const dOg = tf.reshape(dO, [G, rows, hd]) as tf.Tensor3D;
  // With dropout, o = (p ⊙ m) v: dv = (p ⊙ m)ᵀ dO and the probabilities' gradient is (dO vᵀ) ⊙ m.
  const dv = bmmAT(mask ? tf.mul(p, mask) : p, dOg);
  const dp = mask ? tf.mul(bmm(dOg, vg, true), mask) : bmm(dOg, vg, true);
  // d(cap · tanh(scale · s / cap)) / ds = scale · (1 − t²).
  const ds = (softcap === null ? scaledSoftmaxGrad(p, dp, scale) : tf.mul(scaledSoftmaxGrad(p, dp, 1), tf.mul(tf.sub(1, tf.square(t!)), scale))) as tf.Tensor3D;
  return [tf.reshape(bmm(ds, kg), q.shape), tf.reshape(bmmAT(ds, qg), k.shape), tf.reshape(dv, v.shape)];
}

/** [B, T, heads * hd] → [B, heads, T, hd]. */
export function splitHeads(x: tf.Tensor, heads: number, hd: number): tf.Tensor4D {
  const [B, T] = x.shape;
  return tf.transpose(tf.reshape(x, [B, T, heads, hd]), [0, 2, 1, 3]) as tf.Tensor4D;
}

/** [B, heads, T, hd] → [B, T, heads * hd]. */
export function mergeHeads(x: tf.Tensor4D): tf.Tensor3D {
  const [B, heads, T, hd] = x.shape;
  return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [B, T, heads * hd]) as tf.Tensor3D;
}
