// Dropout as torch applies it in training mode (nn.Dropout / F.dropout): each element is zeroed
// with probability p and the kept ones are scaled by 1 / (1 - p). Torch's RNG cannot be
// reproduced, so the masks come from the engine's own seeded generator: the same run seed and
// step give the same masks, on every backend.
//
// How a family applies it: `options.dropout` (ForwardOptions) is set only for training steps.
// Where transformers calls a dropout module, the family draws a mask with
// `options.dropout?.mask(shape, p)` (null when dropout is off or p is 0) and multiplies with
// `dropout(x, mask)`. Inside a hand-written block backward pass the same mask must scale the
// gradient, so the block saves its masks with `savedMasks` after its other tensors and gets them
// back in the backward pass with `restoreMasks` (in the same order). Attention probabilities take
// their mask through attentionForward's `dropMask` argument, which keeps it for attentionBackward.
import * as tf from '@tensorflow/tfjs-core';

export class DropoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DropoutError';
  }
}

/** murmur3's 32-bit finalizer: a bijection that mixes every input bit into every output bit. */
function fmix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/**
 * The masks of one training step. Each element's draw is a pure function of (seed, step, which
 * mask of the step, element index), splitmix32-style (fmix32 over a Weyl sequence), so a device
 * kernel can draw the same masks with 32-bit integer arithmetic instead of uploading them.
 */
export class Dropout {
  private readonly key: number;
  private drawn = 0;

  /** `seed`: the run's seed; `step`: the training step (so a resumed run draws the masks it would have drawn). */
  constructor(seed: number, step: number) {
    this.key = fmix32((fmix32(seed >>> 0) + Math.imul(step + 1, 0x9e3779b9)) >>> 0);
  }

  /** A mask of `shape` holding 0 (dropped) or 1 / (1 - p) (kept), or null when p is 0. */
  mask(shape: number[], p: number): tf.Tensor | null {
    if (p === 0) return null;
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    const keep = Math.fround(1 / (1 - p));
    // Dropped when the element's uniform 32-bit draw falls below p * 2^32 (rate p to within 2^-32).
    const threshold = p * 2 ** 32;
    const stream = fmix32((this.key + Math.imul(++this.drawn, 0x632be5ab)) >>> 0);
    for (let i = 0; i < size; i++) data[i] = fmix32((stream + Math.imul(i + 1, 0x9e3779b9)) >>> 0) < threshold ? 0 : keep;
    return tf.tensor(data, shape, 'float32');
  }
}

/** x ⊙ mask, or x itself without a mask. */
export function dropout(x: tf.Tensor, mask: tf.Tensor | null): tf.Tensor {
  return mask ? tf.mul(x, mask) : x;
}

/** A dropout probability from config.json: a number in [0, 1) (absent: `fallback`). */
export function dropoutRate(raw: Record<string, unknown>, field: string, what: string, fallback = 0): number {
  const v = raw[field];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw new DropoutError(`${what}: config.json field "${field}" must be a dropout probability in [0, 1), got ${JSON.stringify(v)}`);
  return v;
}

/** The masks a block drew, to append to its saved tensors (absent ones take no slot). */
export function savedMasks(masks: (tf.Tensor | null)[]): tf.Tensor[] {
  return masks.filter((m): m is tf.Tensor => m !== null);
}

/**
 * The masks back from the tail of a block's saved tensors. `rates` are the block's dropout
 * probabilities in the order the masks were drawn; a step with dropout on saved one mask for
 * each non-zero rate, a step without saved none.
 */
export function restoreMasks(tail: tf.Tensor[], rates: number[]): (tf.Tensor | null)[] {
  if (tail.length === 0) return rates.map(() => null);
  let next = 0;
  const out = rates.map((p) => (p > 0 ? tail[next++] : null));
  if (next !== tail.length) throw new Error(`block saved ${tail.length} dropout masks, its rates need ${next}`);
  return out;
}
