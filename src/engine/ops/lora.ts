// LoRA's low-rank delta on a frozen linear layer (PEFT's lora.Linear.forward):
//   y = base(x) + scale · B(A(dropout(x)))
// with A [r, in] and B [out, r] as PEFT stores them; here they arrive transposed, a = Aᵀ [in, r]
// and b = Bᵀ [r, out], so both products are x · W like every other matmul in the engine. The
// hand-written block backward passes call loraBackward for the input gradient and the two factor
// gradients; the base weight stays frozen.
import * as tf from '@tensorflow/tfjs-core';
import { dropout } from './dropout.ts';

export interface LoraFactors {
  /** Aᵀ [in, r]. */
  a: tf.Tensor2D;
  /** Bᵀ [r, out]. */
  b: tf.Tensor2D;
  /** lora_alpha / r (or / sqrt(r) with use_rslora). */
  scale: number;
  /** lora_dropout: applied to the layer's input before A, in training steps only. */
  dropout: number;
}

/** What loraBackward needs from the forward pass. */
export interface LoraSaved {
  /** dropout(x) [N, in]. */
  xd: tf.Tensor2D;
  /** xd · a [N, r]. */
  h: tf.Tensor2D;
  /** The dropout mask [N, in], or null. */
  mask: tf.Tensor | null;
}

/** The delta scale · (dropout(x) · a) · b for x [N, in] → [N, out]. */
export function loraForward(x: tf.Tensor2D, f: LoraFactors, mask: tf.Tensor | null): { delta: tf.Tensor2D; saved: LoraSaved } {
  const xd = dropout(x, mask) as tf.Tensor2D;
  const h = tf.matMul(xd, f.a) as tf.Tensor2D; // [N, r]
  return { delta: tf.mul(tf.matMul(h, f.b), f.scale) as tf.Tensor2D, saved: { xd, h, mask } };
}

/** From dy [N, out]: d/dx [N, in] (the delta's share only), d/da [in, r] and d/db [r, out]. */
export function loraBackward(dy: tf.Tensor2D, f: LoraFactors, { xd, h, mask }: LoraSaved): { dx: tf.Tensor2D; da: tf.Tensor2D; db: tf.Tensor2D } {
  const dys = tf.mul(dy, f.scale) as tf.Tensor2D;
  const dh = tf.matMul(dys, f.b, false, true); // [N, r]
  return {
    db: tf.matMul(h, dys, true, false), // [r, out]
    da: tf.matMul(xd, dh, true, false), // [in, r]
    dx: dropout(tf.matMul(dh, f.a, false, true), mask) as tf.Tensor2D, // [N, in]
  };
}
