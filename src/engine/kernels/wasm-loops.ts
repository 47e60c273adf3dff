// The fused kernels of kernels/webgpu-fused.ts for the WASM backend, as plain JavaScript loops
// over copies of tensors on the WASM heap (no XNNPACK, no SIMD). A small model's step on WASM is bound by kernel dispatch, not arithmetic:
// the demo model's step ran 5,000 kernels, most of them the per-head slices and products of
// attention. Here attention forward and backward are one kernel each (used while the products
// are small; large ones go to XNNPACK), and norms, RoPE and SwiGLU one each.
import * as tf from '@tensorflow/tfjs-core';
import { simdAttention, type SimdAttention } from './wasm-attention.ts';

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: tf.DataId): boolean;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
  /** The Emscripten module: the heap's WebAssembly.Memory is among its exports (single-threaded builds) or on it (the threaded build). */
  wasm?: { asm?: { memory?: WebAssembly.Memory }; wasmMemory?: WebAssembly.Memory };
}

type Inputs = Record<string, tf.TensorInfo>;
type Attrs = Record<string, number>;

const lastDim = (t: tf.TensorInfo) => t.shape[t.shape.length - 1];
const sizeOf = (t: tf.TensorInfo) => t.shape.reduce((a, b) => a * b, 1);

/**
 * Runs `body` on plain copies of the inputs and writes its results into new tensors: V8 reads
 * and writes views of the WASM heap several times slower than ordinary typed arrays, and the
 * copies cost little next to the loops. Except an input the loop reads only once an element
 * (`inPlace[i]`): a copy reads it once too, so it is read from the heap where it is (nothing
 * touches the heap while `body` runs, so the view stays valid).
 */
function run(backend: WasmBackendLike, inputs: tf.TensorInfo[], outShapes: number[][], body: (ins: Float32Array[], outs: Float32Array[]) => void, inPlace: boolean[] = []): tf.TensorInfo[] {
  const ins = inputs.map((t, i) => (inPlace[i] ? backend.typedArrayFromHeap(t) : backend.typedArrayFromHeap(t).slice()));
  const outs = outShapes.map((s) => new Float32Array(s.reduce((a, b) => a * b, 1)));
  body(ins, outs);
  // Allocate every output before viewing any: allocation can grow the heap and detach views.
  const outputs = outShapes.map((s) => backend.makeOutput(s, 'float32'));
  outputs.forEach((t, i) => backend.typedArrayFromHeap(t).set(outs[i]));
  return outputs;
}

/** name → (inputs, attrs, backend) → outputs, registered for 'wasm' by kernels/registry.ts. */
export const WASM_LOOP_KERNELS: Record<string, (inputs: Inputs, attrs: Attrs, backend: WasmBackendLike) => tf.TensorInfo | tf.TensorInfo[]> = {
  PtRmsNorm: ({ x, w }, { eps }, backend) =>
    run(backend, [x, w], [x.shape], ([xs, ws], [y]) => {
      const H = lastDim(x);
      for (let base = 0; base < xs.length; base += H) {
        let ss = 0;
        for (let c = 0; c < H; c++) ss += xs[base + c] * xs[base + c];
        const r = 1 / Math.sqrt(ss / H + eps);
        for (let c = 0; c < H; c++) y[base + c] = ws[c] * xs[base + c] * r;
      }
    })[0],
  PtRmsNormGrad: ({ dy, x, w }, { eps }, backend) =>
    run(backend, [dy, x, w], [x.shape], ([d, xs, ws], [dx]) => {
      const H = lastDim(x);
      for (let base = 0; base < xs.length; base += H) {
        let ss = 0;
        let gx = 0;
        for (let c = 0; c < H; c++) {
          ss += xs[base + c] * xs[base + c];
          gx += d[base + c] * ws[c] * xs[base + c];
        }
        const r = 1 / Math.sqrt(ss / H + eps);
        const proj = gx / H;
        for (let c = 0; c < H; c++) dx[base + c] = r * (d[base + c] * ws[c] - xs[base + c] * r * r * proj);
      }
    })[0],
  PtSwiGlu: ({ gu }, _attrs, backend) => {
    const F = lastDim(gu) / 2;
    return run(backend, [gu], [[...gu.shape.slice(0, -1), F]], ([g], [h]) => {
      for (let row = 0, out = 0; row < g.length; row += 2 * F) {
        for (let c = 0; c < F; c++, out++) {
          const a = g[row + c];
          h[out] = (a / (1 + Math.exp(-a))) * g[row + F + c];
        }
      }
    })[0];
  },
  PtSwiGluGrad: ({ gu, dh }, _attrs, backend) => {
    const F = lastDim(gu) / 2;
    return run(backend, [gu, dh], [gu.shape], ([g, d], [out]) => {
      for (let row = 0, k = 0; row < g.length; row += 2 * F) {
        for (let c = 0; c < F; c++, k++) {
          const a = g[row + c];
          const u = g[row + F + c];
          const s = 1 / (1 + Math.exp(-a));
          out[row + c] = d[k] * u * s * (1 + a * (1 - s));
          out[row + F + c] = d[k] * a * s;
        }
      }
    })[0];
  },
  // inverse = 1: the transposed rotation (the backward pass)
  PtRope: ({ x, cos, sin }, { inverse }, backend) =>
    run(backend, [x, cos, sin], [x.shape], ([xs, cs, sn], [y]) => {
      const [, heads, T, hd] = x.shape;
      const half = hd / 2;
      // The tables have T rows (one for all rows of the batch) or B * T (per-row positions).
      const R = cos.shape[0];
      for (let base = 0, n = 0; base < xs.length; base += hd, n++) {
        const tab = ((Math.floor(n / (heads * T)) * T + (n % T)) % R) * hd;
        for (let d = 0; d < half; d++) {
          const a = xs[base + d];
          const b = xs[base + half + d];
          if (inverse) {
            y[base + d] = a * cs[tab + d] + b * sn[tab + half + d];
            y[base + half + d] = b * cs[tab + half + d] - a * sn[tab + d];
          } else {
            y[base + d] = a * cs[tab + d] - b * sn[tab + d];
            y[base + half + d] = b * cs[tab + half + d] + a * sn[tab + half + d];
          }
        }
      }
    })[0],
  // o [B, nh, T, hd] and p [B * nkv, group * T, S] from q [B, nh, T, hd], k and v [B, nkv, S, hd], bias [B, 1 | nh, T, S]
  PtAttention: ({ q, k, v, bias }, { scale }, backend) => {
    const [B, nh, T, hd] = q.shape;
    const [, nkv, S] = k.shape;
    // The same loop in WebAssembly SIMD on the heap itself (kernels/attention.wat), where it can run.
    const simd = simdOn(backend, hd);
    if (simd) {
      const outputs = [backend.makeOutput(q.shape, 'float32'), backend.makeOutput([B * nkv, (nh / nkv) * T, S], 'float32')];
      const at = (t: tf.TensorInfo) => backend.typedArrayFromHeap(t).byteOffset;
      const idx = backend.makeOutput([S], 'int32');
      try {
        simd(at(q), at(k), at(v), at(bias), at(outputs[0]), at(outputs[1]), B, nh, nkv, T, S, hd, bias.shape[1], scale, at(idx));
      } finally {
        backend.disposeData(idx.dataId);
      }
      return outputs;
    }
    // Each key and value is read once per query row of its kv head: once in a decoding step
    // (T = 1, one query head per kv head), where a serving batch's cache is most of the bytes.
    const once = (nh / nkv) * T === 1;
    const inPlace = [false, once, once, false];
    return run(
      backend,
      [q, k, v, bias],
      [q.shape, [B * nkv, (nh / nkv) * T, S]],
      ([qs, ks, vs, bs], [o, p]) => attentionLoop(qs, ks, vs, bs, o, p, B, nh, nkv, T, S, hd, bias.shape[1], scale),
      inPlace,
    );
  },
  // dq, dk, dv from dO and the forward's q, k, v, p
  PtAttentionGrad: ({ dO, q, k, v, p }, { scale }, backend) => {
    const [B, nh, T, hd] = q.shape;
    const [, nkv, S] = k.shape;
    return run(backend, [dO, q, k, v, p], [q.shape, k.shape, v.shape], ([dos, qs, ks, vs, ps], [dq, dk, dv]) => attentionGradLoop(dos, qs, ks, vs, ps, dq, dk, dv, B, nh, nkv, T, S, hd, scale));
  },
};

/**
 * Bias at or below this is a masked key (models/layers.ts MASKED, -1e30): its score underflows
 * exp() to exactly 0 next to any unmasked key's, so the loop need not compute it. Causal prefill
 * masks half the keys, and a serving batch's rows mask the padding of the others' lengths.
 */
const MASKED_BIAS = -1e29;

// The loops take every size as an argument: V8 optimises loops over locals far better than
// over variables captured from an enclosing function. The inner loops are unrolled by four in
// the same order of operations (the same sums, bit for bit): V8 does not unroll them, and at a
// head size of 32 the loop's own bookkeeping cost as much as the products.
function attentionLoop(
  qs: Float32Array,
  ks: Float32Array,
  vs: Float32Array,
  bs: Float32Array,
  o: Float32Array,
  p: Float32Array,
  B: number,
  nh: number,
  nkv: number,
  T: number,
  S: number,
  hd: number,
  bh: number,
  scale: number,
): void {
  const group = nh / nkv;
  const unrolled = hd & ~3;
  // The query row, read once per row rather than once per key (the same values, as doubles).
  const q = new Float64Array(hd);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < nh; h++) {
      const kBase = (b * nkv + Math.floor(h / group)) * S * hd;
      const pHead = ((b * nkv + Math.floor(h / group)) * group + (h % group)) * T;
      const biasHead = (b * bh + (bh === 1 ? 0 : h)) * T;
      for (let t = 0; t < T; t++) {
        const qBase = ((b * nh + h) * T + t) * hd;
        const pBase = (pHead + t) * S;
        const biasBase = (biasHead + t) * S;
        for (let d = 0; d < hd; d++) q[d] = qs[qBase + d];
        // Masked keys score -Infinity (exp gives the 0 their real score would), unless every key
        // is masked: then, as in the plain softmax, their real scores decide.
        let all = true;
        for (let s = 0; s < S; s++) {
          if (bs[biasBase + s] > MASKED_BIAS) {
            all = false;
            break;
          }
        }
        let max = -Infinity;
        for (let s = 0; s < S; s++) {
          const bias = bs[biasBase + s];
          if (!all && bias <= MASKED_BIAS) {
            p[pBase + s] = -Infinity;
            continue;
          }
          const kRow = kBase + s * hd;
          let dot = 0;
          let d = 0;
          for (; d < unrolled; d += 4) {
            dot += q[d] * ks[kRow + d];
            dot += q[d + 1] * ks[kRow + d + 1];
            dot += q[d + 2] * ks[kRow + d + 2];
            dot += q[d + 3] * ks[kRow + d + 3];
          }
          for (; d < hd; d++) dot += q[d] * ks[kRow + d];
          const score = dot * scale + bias;
          p[pBase + s] = score;
          if (score > max) max = score;
        }
        let total = 0;
        for (let s = 0; s < S; s++) {
          // A masked key's exp is 0: no call (a packed serving batch masks most keys of each query).
          if (p[pBase + s] === -Infinity) {
            p[pBase + s] = 0;
            continue;
          }
          const e = Math.exp(p[pBase + s] - max);
          p[pBase + s] = e;
          total += e;
        }
        const inv = 1 / total;
        for (let s = 0; s < S; s++) {
          const ps = (p[pBase + s] *= inv);
          if (ps === 0) continue;
          const vRow = kBase + s * hd;
          let d = 0;
          for (; d < unrolled; d += 4) {
            o[qBase + d] += ps * vs[vRow + d];
            o[qBase + d + 1] += ps * vs[vRow + d + 1];
            o[qBase + d + 2] += ps * vs[vRow + d + 2];
            o[qBase + d + 3] += ps * vs[vRow + d + 3];
          }
          for (; d < hd; d++) o[qBase + d] += ps * vs[vRow + d];
        }
      }
    }
  }
}

function attentionGradLoop(
  dos: Float32Array,
  qs: Float32Array,
  ks: Float32Array,
  vs: Float32Array,
  ps: Float32Array,
  dq: Float32Array,
  dk: Float32Array,
  dv: Float32Array,
  B: number,
  nh: number,
  nkv: number,
  T: number,
  S: number,
  hd: number,
  scale: number,
): void {
  const group = nh / nkv;
  const dp = new Float32Array(S);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < nh; h++) {
      const kBase = (b * nkv + Math.floor(h / group)) * S * hd;
      const pHead = ((b * nkv + Math.floor(h / group)) * group + (h % group)) * T;
      for (let t = 0; t < T; t++) {
        const qBase = ((b * nh + h) * T + t) * hd;
        const pBase = (pHead + t) * S;
        let dot = 0;
        for (let s = 0; s < S; s++) {
          const row = kBase + s * hd;
          const pv = ps[pBase + s];
          let acc = 0;
          for (let d = 0; d < hd; d++) {
            acc += dos[qBase + d] * vs[row + d];
            dv[row + d] += pv * dos[qBase + d];
          }
          dp[s] = acc;
          dot += acc * pv;
        }
        for (let s = 0; s < S; s++) {
          const g = scale * ps[pBase + s] * (dp[s] - dot);
          if (g === 0) continue;
          const row = kBase + s * hd;
          for (let d = 0; d < hd; d++) {
            dq[qBase + d] += g * ks[row + d];
            dk[row + d] += g * qs[qBase + d];
          }
        }
      }
    }
  }
}

/**
 * Gate elements above which SwiGLU leaves the loops for tfjs's ops: the loops call Math.exp per
 * element (about 17 ns each on this project's 2-core machine), XNNPACK's sigmoid and products are
 * vectorised but cost a few kernels. Measured in Node, each path in turn (median of 40): forward,
 * the loop wins at 1,536 elements (50 against 59 us) and loses at 2,304 (74 against 42); backward,
 * it wins at 3,072 (107 against 126 us) and loses at 4,608 (187 against 121). At a training batch
 * of the demo model (258K) the ops take a seventh of the time forward and two fifths backward.
 */
export const WASM_SWIGLU_MAX_ELEMENTS = { forward: 2048, backward: 4096 };

/**
 * Attention FLOPs (forward, attentionFlops) up to which the loop kernels run instead of XNNPACK's
 * per-head products. Measured in Node, each path timed in turn on the same tensors (median of 8):
 * - forward in JavaScript: the two tie up to about 4M (a decoding step, a serving prefill); at 6.6M
 *   the products take 0.7 of the time, at the demo model's training batch (28.9M) 0.37;
 * - forward in SIMD (attention.wat), five times the JavaScript loop: it still wins at 6.6M (1.7
 *   against 6.4 ms) and 28.9M (6.5 against 7.5 ms), and ties at 130M;
 * - backward (JavaScript, twice the products): they tie below 1M, the products take 0.63 of the
 *   time at 2.1M and 0.21 at 28.9M.
 */
export const WASM_ATTENTION_MAX_FLOPS = { simd: 32e6, js: 4e6 };
export const WASM_ATTENTION_GRAD_MAX_FLOPS = 1e6;

/** The SIMD attention kernel on this backend's heap, where it can run for head size hd. */
function simdOn(backend: WasmBackendLike, hd: number): SimdAttention | null {
  return hd % 4 === 0 ? simdAttention(backend.wasm?.asm?.memory ?? backend.wasm?.wasmMemory) : null;
}

/** Forward FLOPs up to which PtAttention runs on the active WASM backend, for head size hd. */
export function wasmAttentionMaxFlops(hd: number): number {
  return simdOn(tf.backend() as unknown as WasmBackendLike, hd) ? WASM_ATTENTION_MAX_FLOPS.simd : WASM_ATTENTION_MAX_FLOPS.js;
}

export function attentionFlops(q: tf.TensorInfo, k: tf.TensorInfo): number {
  return 4 * sizeOf(q) * k.shape[2];
}
