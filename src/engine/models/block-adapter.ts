// What a tuning method adds inside one transformer block, as the family files see it: past keys
// and values to attend to (a KV cache while decoding, or prefix tuning's trainable prefix) and
// LoRA deltas on named projections. The families call `linear` / `linearBackward` for every
// projection a method may adapt and `pastGrads` with the attention's key/value gradients; the
// block op (runBlocks) passes the trainable tensors in and routes their gradients out. A family
// never asks which method is running.
import * as tf from '@tensorflow/tfjs-core';
import { linear, linearBackward } from '../ops/linear.ts';
import { loraBackward, loraForward, type LoraFactors, type LoraSaved } from '../ops/lora.ts';
import type { Dropout } from '../ops/dropout.ts';
import type { Weight } from '../ops/weight.ts';

/** Keys and values [B, kvHeads, P, headDim] a block's attention reads before its own. */
export interface PastKV {
  k: tf.Tensor4D;
  v: tf.Tensor4D;
}

/**
 * A projection's output columns by module: [key, width], the key being the module's path inside
 * its layer (LinearModule.key: attn.c_attn, self_attn.q_proj); a fused matrix lists several.
 */
export type Parts = [name: string, width: number][];

export class BlockAdapter {
  private readonly saved = new Map<string, LoraSaved>();
  /** The factors as the block op saved them: its inputs are gone after the forward pass's tidy unless saved. */
  private readonly savedFactors = new Map<string, LoraFactors>();
  private readonly grads = new Map<string, { da: tf.Tensor2D; db: tf.Tensor2D }>();
  private pastGrad: PastKV | null = null;
  /** Tensors handed to the block op's save(), and how each module's share is laid out in them. */
  private layout: [name: string, hasMask: boolean][] = [];

  /**
   * `past`: keys/values before this call's positions. `trainablePast`: they are inputs of the
   * block op that take a gradient (prefix tuning), not a cache. `lora`: factors by module key
   * (self_attn.q_proj, attn.c_attn, ...). `drop`: this training step's dropout, for lora_dropout.
   */
  constructor(
    readonly past: PastKV | null,
    private readonly trainablePast: boolean,
    private readonly lora: ReadonlyMap<string, LoraFactors> | null,
    private readonly drop?: Dropout,
    /** Serving: other LoRA adapters, each on its rows of the batch or its positions of a packed one (forward only, no gradient). */
    private readonly mixed: { factors: ReadonlyMap<string, LoraFactors>; rows: number[]; tokens?: number[] }[] = [],
  ) {}

  static readonly NONE = new BlockAdapter(null, false, null);

  /** The block op's differentiable inputs besides x, in the order `gradients` returns theirs. */
  inputs(): tf.Tensor[] {
    const out: tf.Tensor[] = this.trainablePast && this.past ? [this.past.k, this.past.v] : [];
    for (const f of this.lora?.values() ?? []) out.push(f.a, f.b);
    return out;
  }

  /** x [..., in] · W (+ bias), plus the LoRA delta of each module in `parts` that has one. */
  linear(x: tf.Tensor, w: Weight | tf.Tensor2D, bias: tf.Tensor1D | null, parts: Parts): tf.Tensor {
    const y = this.mixedDeltas(x, linear(x, w, bias), parts);
    if (!this.lora || !parts.some(([name]) => this.lora!.has(name))) return y;
    const inDim = w.shape[0];
    const flat = tf.reshape(x, [-1, inDim]) as tf.Tensor2D;
    const N = flat.shape[0];
    const deltas = parts.map(([name, width]) => {
      const f = this.lora!.get(name);
      if (!f) return tf.zeros([N, width]);
      const { delta, saved } = loraForward(flat, f, this.drop?.mask(flat.shape, f.dropout) ?? null);
      this.saved.set(name, saved);
      return delta;
    });
    const delta = deltas.length === 1 ? deltas[0] : tf.concat(deltas, 1);
    return tf.add(y, tf.reshape(delta, y.shape));
  }

  /**
   * y plus each mixed adapter's delta on its own rows: x [B, T, in], y [B, T, out]; the delta is
   * computed for every row and masked to the adapter's (r is small beside the frozen product).
   */
  private mixedDeltas(x: tf.Tensor, y: tf.Tensor, parts: Parts): tf.Tensor {
    if (this.mixed.length === 0) return y;
    const [B, T] = x.shape;
    const inDim = x.shape[x.rank - 1];
    const flat = tf.reshape(x, [-1, inDim]) as tf.Tensor2D;
    let out = y;
    for (const { factors, rows, tokens } of this.mixed) {
      if (!parts.some(([name]) => factors.has(name))) continue;
      // Which of the B·T positions the adapter applies to: its rows' or, packed, its own positions.
      const on = new Float32Array(B * T);
      if (tokens) for (const t of tokens) on[t] = 1;
      else for (const b of rows) on.fill(1, b * T, (b + 1) * T);
      const mask = tf.tensor2d(on, [B * T, 1]);
      const deltas = parts.map(([name, width]) => {
        const f = factors.get(name);
        return f ? loraForward(flat, f, null).delta : tf.zeros([B * T, width]);
      });
      const delta = tf.mul(deltas.length === 1 ? deltas[0] : tf.concat(deltas, 1), mask);
      out = tf.add(out, tf.reshape(delta, y.shape));
    }
    return out;
  }

  /** d loss / d x of `linear` from dy [..., out], collecting the LoRA factor gradients. */
  linearBackward(dy: tf.Tensor, w: Weight | tf.Tensor2D, parts: Parts): tf.Tensor {
    const dx = linearBackward(dy, w);
    if (!this.lora || !parts.some(([name]) => this.lora!.has(name))) return dx;
    const outDim = w.shape[1];
    const flat = tf.reshape(dy, [-1, outDim]) as tf.Tensor2D;
    const pieces =
      parts.length === 1
        ? [flat]
        : tf.split(
            flat,
            parts.map(([, width]) => width),
            1,
          );
    let extra: tf.Tensor | null = null;
    parts.forEach(([name], i) => {
      const f = this.savedFactors.get(name) ?? this.lora!.get(name);
      const saved = this.saved.get(name);
      if (!f) return;
      if (!saved) throw new Error(`LoRA on "${name}": the backward pass has no saved forward tensors`);
      const g = loraBackward(pieces[i] as tf.Tensor2D, f, saved);
      this.grads.set(name, { da: g.da, db: g.db });
      extra = extra ? tf.add(extra, g.dx) : g.dx;
    });
    return extra ? tf.add(dx, tf.reshape(extra, dx.shape)) : dx;
  }

  /**
   * Splits the attention's key/value gradients [B, kvHeads, P + T, hd] into the past's first P
   * (kept as the prefix's gradients when it is trainable) and this call's T, which it returns.
   */
  splitPastGrads(dk: tf.Tensor4D, dv: tf.Tensor4D): [tf.Tensor4D, tf.Tensor4D] {
    if (!this.past) return [dk, dv];
    const P = this.past.k.shape[2];
    const own = (g: tf.Tensor4D) => tf.slice(g, [0, 0, P, 0], [-1, -1, -1, -1]);
    if (this.trainablePast) this.pastGrad = { k: tf.slice(dk, [0, 0, 0, 0], [-1, -1, P, -1]), v: tf.slice(dv, [0, 0, 0, 0], [-1, -1, P, -1]) };
    return [own(dk), own(dv)];
  }

  /** Appends the past keys/values [B, kvHeads, P, hd] in front of this call's [B, kvHeads, T, hd]. */
  withPast(k: tf.Tensor4D, v: tf.Tensor4D): [tf.Tensor4D, tf.Tensor4D] {
    if (!this.past) return [k, v];
    return [tf.concat([this.past.k, k], 2) as tf.Tensor4D, tf.concat([this.past.v, v], 2) as tf.Tensor4D];
  }

  /** The forward pass's LoRA tensors, for the block op to save (they must outlive the forward's tidy). */
  takeSaved(): tf.Tensor[] {
    const out: tf.Tensor[] = [];
    this.layout = [];
    for (const [name, s] of this.saved) {
      const f = this.lora!.get(name)!;
      out.push(s.xd, s.h, f.a, f.b);
      if (s.mask) out.push(s.mask);
      this.layout.push([name, s.mask !== null]);
    }
    this.saved.clear();
    return out;
  }

  /** Puts back what takeSaved handed out (the block op's saved copies). */
  restoreSaved(tensors: tf.Tensor[]): void {
    let at = 0;
    for (const [name, hasMask] of this.layout) {
      const xd = tensors[at++] as tf.Tensor2D;
      const h = tensors[at++] as tf.Tensor2D;
      const f = this.lora!.get(name)!;
      this.savedFactors.set(name, { ...f, a: tensors[at++] as tf.Tensor2D, b: tensors[at++] as tf.Tensor2D });
      this.saved.set(name, { xd, h, mask: hasMask ? tensors[at++] : null });
    }
    if (at !== tensors.length) throw new Error(`block adapter: ${tensors.length} saved tensors, its layout reads ${at}`);
  }

  /** Gradients of `inputs()`, in that order (zeros for a module the block never ran). */
  gradients(): tf.Tensor[] {
    const out: tf.Tensor[] = [];
    if (this.trainablePast && this.past) {
      if (!this.pastGrad) throw new Error('prefix: the block did not report the gradients of its past keys and values');
      out.push(this.pastGrad.k, this.pastGrad.v);
    }
    for (const [name, f] of this.lora ?? []) {
      const g = this.grads.get(name);
      out.push(g?.da ?? tf.zerosLike(f.a), g?.db ?? tf.zerosLike(f.b));
    }
    this.grads.clear();
    this.savedFactors.clear();
    this.pastGrad = null;
    return out;
  }
}
