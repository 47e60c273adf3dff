// The row-wise and elementwise pieces of a block. On WebGPU each is one fused kernel
// (kernels/webgpu-fused.ts), on WASM most are one JavaScript loop over the heap
// (kernels/wasm-loops.ts); wherever kernels/registry.ts has no such kernel, the same math as
// composite tfjs ops.
import * as tf from '@tensorflow/tfjs-core';
import { hasKernel } from '../kernels/registry.ts';
import { WASM_SWIGLU_MAX_ELEMENTS } from '../kernels/wasm-loops.ts';

export function kernel(name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, number> = {}): tf.Tensor {
  return tf.engine().runKernel(name, inputs as unknown as tf.NamedTensorMap, attrs) as tf.Tensor;
}

const rms = (x: tf.Tensor, eps: number) => tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps));

/** w ⊙ x / rms(x). */
export function rmsNorm(x: tf.Tensor, w: tf.Tensor1D, eps: number): tf.Tensor {
  if (hasKernel('PtRmsNorm')) return kernel('PtRmsNorm', { x, w }, { eps });
  return tf.mul(w, tf.mul(x, rms(x, eps)));
}

/** dx = r (g − x r² mean(g ⊙ x)), g = dy ⊙ w, r = 1 / rms(x). */
export function rmsNormGrad(dy: tf.Tensor, x: tf.Tensor, w: tf.Tensor1D, eps: number): tf.Tensor {
  if (hasKernel('PtRmsNormGrad')) return kernel('PtRmsNormGrad', { dy, x, w }, { eps });
  const r = rms(x, eps);
  const g = tf.mul(dy, w);
  return tf.mul(r, tf.sub(g, tf.mul(x, tf.mul(tf.square(r), tf.mean(tf.mul(g, x), -1, true)))));
}

function standardize(x: tf.Tensor, eps: number): { xhat: tf.Tensor; r: tf.Tensor } {
  const centered = tf.sub(x, tf.mean(x, -1, true));
  const r = tf.rsqrt(tf.add(tf.mean(tf.square(centered), -1, true), eps));
  return { xhat: tf.mul(centered, r), r };
}

/** (x − μ) / σ ⊙ γ + β. */
export function layerNorm(x: tf.Tensor, g: tf.Tensor1D, b: tf.Tensor1D, eps: number): tf.Tensor {
  if (hasKernel('PtLayerNorm')) return kernel('PtLayerNorm', { x, g, b }, { eps });
  return tf.add(tf.mul(standardize(x, eps).xhat, g), b);
}

/** dx = r (h − mean h − x̂ mean(h ⊙ x̂)), h = dy ⊙ γ. */
export function layerNormGrad(dy: tf.Tensor, x: tf.Tensor, g: tf.Tensor1D, eps: number): tf.Tensor {
  if (hasKernel('PtLayerNormGrad')) return kernel('PtLayerNormGrad', { dy, x, g }, { eps });
  const { xhat, r } = standardize(x, eps);
  const h = tf.mul(dy, g);
  return tf.mul(r, tf.sub(tf.sub(h, tf.mean(h, -1, true)), tf.mul(xhat, tf.mean(tf.mul(h, xhat), -1, true))));
}

/** softmax(scale · s + bias) over the last axis; s [B, heads, T, S], bias [B, 1 | heads, T, S]. */
export function scaledSoftmax(s: tf.Tensor4D, bias: tf.Tensor, scale: number): tf.Tensor4D {
  if (hasKernel('PtScaledSoftmax') && bias.rank === 4 && bias.shape[2] === s.shape[2]) return kernel('PtScaledSoftmax', { s, bias }, { scale }) as tf.Tensor4D;
  return tf.softmax(tf.add(tf.mul(s, scale), bias)) as tf.Tensor4D;
}

/** Gradient of the scores from that of the probabilities: scale · p ⊙ (dp − Σ dp ⊙ p). */
export function scaledSoftmaxGrad(p: tf.Tensor, dp: tf.Tensor, scale: number): tf.Tensor {
  if (hasKernel('PtSoftmaxGrad')) return kernel('PtSoftmaxGrad', { p, dp }, { scale });
  return tf.mul(tf.mul(p, tf.sub(dp, tf.sum(tf.mul(dp, p), -1, true))), scale);
}

/** Whether SwiGLU's own kernel `name` runs for gu: on WASM only while the loop beats tfjs's ops. */
function swiGluKernel(name: 'PtSwiGlu' | 'PtSwiGluGrad', gu: tf.Tensor): boolean {
  return hasKernel(name) && (tf.getBackend() !== 'wasm' || gu.size / 2 <= WASM_SWIGLU_MAX_ELEMENTS[name === 'PtSwiGlu' ? 'forward' : 'backward']);
}

/** silu(gate) ⊙ up for gu = [gate | up] along the last axis. */
export function swiGlu(gu: tf.Tensor): tf.Tensor {
  if (swiGluKernel('PtSwiGlu', gu)) return kernel('PtSwiGlu', { gu });
  const [gate, up] = tf.split(gu, 2, -1);
  return tf.mul(tf.mul(gate, tf.sigmoid(gate)), up);
}

/** [d gate | d up] from gu and dh: silu'(g) = σ(g)(1 + g(1 − σ(g))). */
export function swiGluGrad(gu: tf.Tensor, dh: tf.Tensor): tf.Tensor {
  if (swiGluKernel('PtSwiGluGrad', gu)) return kernel('PtSwiGluGrad', { gu, dh });
  const [gate, up] = tf.split(gu, 2, -1);
  const s = tf.sigmoid(gate);
  return tf.concat([tf.mul(tf.mul(dh, up), tf.mul(s, tf.add(1, tf.mul(gate, tf.sub(1, s))))), tf.mul(dh, tf.mul(gate, s))], -1);
}

const GELU_C = Math.sqrt(2 / Math.PI);
const geluInner = (x: tf.Tensor) => tf.tanh(tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), GELU_C));

/** GELU, tanh approximation (GPT-2's gelu_new, BLOOM's bloom_gelu). */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  if (hasKernel('PtGelu')) return kernel('PtGelu', { x });
  return tf.mul(tf.mul(x, 0.5), tf.add(geluInner(x), 1));
}

/** d/dx ½x(1 + t) = ½(1 + t) + ½x(1 − t²)·c(1 + 3·0.044715x²). */
export function geluTanhGrad(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  if (hasKernel('PtGeluGrad')) return kernel('PtGeluGrad', { dy, x });
  const t = geluInner(x);
  const du = tf.mul(tf.add(tf.mul(tf.square(x), 3 * 0.044715), 1), GELU_C);
  return tf.mul(dy, tf.add(tf.mul(tf.add(t, 1), 0.5), tf.mul(tf.mul(tf.mul(x, 0.5), tf.sub(1, tf.square(t))), du)));
}

/** Tables of [B * T, hd] (per-row positions, ops/rope.ts) as [B, 1, T, hd], so they broadcast over heads. */
function perRow(x: tf.Tensor4D, table: tf.Tensor2D): tf.Tensor {
  const [B, , T, hd] = x.shape;
  return table.shape[0] === T ? table : tf.reshape(table, [B, 1, T, hd]);
}

/** x ⊙ cos + rotate_half(x) ⊙ sin, rotate_half(x) = [−x₂, x₁]; x [B, heads, T, hd], tables [T or B * T, hd]. */
export function rope(x: tf.Tensor4D, cosT: tf.Tensor2D, sinT: tf.Tensor2D): tf.Tensor4D {
  if (hasKernel('PtRope')) return kernel('PtRope', { x, cos: cosT, sin: sinT }, { inverse: 0 }) as tf.Tensor4D;
  const [cos, sin] = [perRow(x, cosT), perRow(x, sinT)];
  const half = x.shape[3] / 2;
  const [x1, x2] = tf.split(x, [half, half], 3);
  return tf.add(tf.mul(x, cos), tf.mul(tf.concat([tf.neg(x2), x1], 3), sin)) as tf.Tensor4D;
}

/** The transpose of the rotation: dx = dy ⊙ cos + rotate_halfᵀ(dy ⊙ sin), rotate_halfᵀ(z) = [z₂, −z₁]. */
export function ropeGrad(dy: tf.Tensor4D, cosT: tf.Tensor2D, sinT: tf.Tensor2D): tf.Tensor4D {
  if (hasKernel('PtRope')) return kernel('PtRope', { x: dy, cos: cosT, sin: sinT }, { inverse: 1 }) as tf.Tensor4D;
  const [cos, sin] = [perRow(dy, cosT), perRow(dy, sinT)];
  const half = dy.shape[3] / 2;
  const [z1, z2] = tf.split(tf.mul(dy, sin), [half, half], 3);
  return tf.add(tf.mul(dy, cos), tf.concat([z2, tf.neg(z1)], 3)) as tf.Tensor4D;
}
