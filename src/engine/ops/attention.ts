// Scaled dot-product attention with grouped key/value heads, forward and backward. Query head
// h reads key/value head floor(h / group), as transformers' repeat_kv does; the query heads of
// one kv head are stacked along rows, so k and v are never repeated.
import * as tf from '@tensorflow/tfjs-core';
import { hasKernel } from '../kernels/registry.ts';
import { attentionFlops, WASM_ATTENTION_MAX_FLOPS } from '../kernels/wasm-loops.ts';
import { scaledSoftmax, scaledSoftmaxGrad } from './fused.ts';
import { bmm, bmmAT } from './matmul.ts';

export interface AttentionSaved {
  q: tf.Tensor4D;
  k: tf.Tensor4D;
  v: tf.Tensor4D;
  /** Attention probabilities [B * nkv, group * T, S]. */
  p: tf.Tensor3D;
}

/** q [B, nh, T, hd], k and v [B, nkv, S, hd], additive bias broadcastable to [B, nh, T, S] → [B, nh, T, hd]. */
/** WASM runs small attentions as one loop kernel: per-head XNNPACK calls would cost more in dispatch than in arithmetic. */
function loopKernel(name: string, q: tf.Tensor4D, k: tf.Tensor4D): boolean {
  return tf.getBackend() === 'wasm' && attentionFlops(q, k) <= WASM_ATTENTION_MAX_FLOPS && hasKernel(name);
}

export function attentionForward(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, bias: tf.Tensor, scale: number): { o: tf.Tensor4D; saved: AttentionSaved } {
  if (loopKernel('PtAttention', q, k) && bias.rank === 4) {
    const [o, p] = tf.engine().runKernel('PtAttention', { q, k, v, bias }, { scale }) as unknown as [tf.Tensor4D, tf.Tensor3D];
    return { o, saved: { q, k, v, p } };
  }
  const [B, nh, T, hd] = q.shape;
  const [, nkv, S] = k.shape;
  const G = B * nkv;
  const rows = (nh / nkv) * T;
  const scores = tf.reshape(bmm(tf.reshape(q, [G, rows, hd]), tf.reshape(k, [G, S, hd]), true), [B, nh, T, S]) as tf.Tensor4D;
  const p = tf.reshape(scaledSoftmax(scores, bias, scale), [G, rows, S]) as tf.Tensor3D;
  const o = tf.reshape(bmm(p, tf.reshape(v, [G, S, hd])), [B, nh, T, hd]) as tf.Tensor4D;
  return { o, saved: { q, k, v, p } };
}

export function attentionBackward(dO: tf.Tensor4D, { q, k, v, p }: AttentionSaved, scale: number): [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D] {
  if (loopKernel('PtAttentionGrad', q, k)) return tf.engine().runKernel('PtAttentionGrad', { dO, q, k, v, p }, { scale }) as unknown as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
  const [B, nh, T, hd] = q.shape;
  const [, nkv, S] = k.shape;
  const G = B * nkv;
  const rows = (nh / nkv) * T;
  const qg = tf.reshape(q, [G, rows, hd]) as tf.Tensor3D;
  const kg = tf.reshape(k, [G, S, hd]) as tf.Tensor3D;
  const vg = tf.reshape(v, [G, S, hd]) as tf.Tensor3D;
  const dOg = tf.reshape(dO, [G, rows, hd]) as tf.Tensor3D;
  const dv = bmmAT(p, dOg);
  const dp = bmm(dOg, vg, true);
  const ds = scaledSoftmaxGrad(p, dp, scale) as tf.Tensor3D;
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
