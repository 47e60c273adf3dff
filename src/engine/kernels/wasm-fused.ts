// The fused kernels of kernels/webgpu-fused.ts for the WASM backend, as plain loops over views
// of the WASM heap. A small model's step on WASM is bound by kernel dispatch, not arithmetic:
// the demo model's step ran 5,000 kernels, most of them the per-head slices and products of
// attention. Here attention forward and backward are one kernel each (used while the products
// are small; large ones go to XNNPACK), and norms, RoPE and SwiGLU one each.
import * as tf from '@tensorflow/tfjs-core';

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
}

type Inputs = Record<string, tf.TensorInfo>;
type Attrs = Record<string, number>;

const lastDim = (t: tf.TensorInfo) => t.shape[t.shape.length - 1];
const sizeOf = (t: tf.TensorInfo) => t.shape.reduce((a, b) => a * b, 1);

/** Allocates the outputs first (allocation can grow the heap and detach earlier views), then views everything. */
function run(backend: WasmBackendLike, inputs: tf.TensorInfo[], outShapes: number[][], body: (ins: Float32Array[], outs: Float32Array[]) => void): tf.TensorInfo[] {
  const outputs = outShapes.map((s) => backend.makeOutput(s, 'float32'));
  body(inputs.map((t) => backend.typedArrayFromHeap(t)), outputs.map((t) => backend.typedArrayFromHeap(t)));
  return outputs;
}

const KERNELS: Record<string, (inputs: Inputs, attrs: Attrs, backend: WasmBackendLike) => tf.TensorInfo | tf.TensorInfo[]> = {
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
      const [, , T, hd] = x.shape;
      const half = hd / 2;
      for (let base = 0, t = 0; base < xs.length; base += hd, t = (t + 1) % T) {
        const tab = t * hd;
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
    const group = nh / nkv;
    const bh = bias.shape[1];
    return run(backend, [q, k, v, bias], [q.shape, [B * nkv, group * T, S]], ([qs, ks, vs, bs], [o, p]) => {
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < nh; h++) {
          const kv = Math.floor(h / group);
          const kBase = (b * nkv + kv) * S * hd;
          for (let t = 0; t < T; t++) {
            const qBase = ((b * nh + h) * T + t) * hd;
            const pBase = ((b * nkv + kv) * group * T + (h % group) * T + t) * S;
            const biasBase = ((b * bh + (bh === 1 ? 0 : h)) * T + t) * S;
            let max = -Infinity;
            for (let s = 0; s < S; s++) {
              let dot = 0;
              for (let d = 0; d < hd; d++) dot += qs[qBase + d] * ks[kBase + s * hd + d];
              const score = dot * scale + bs[biasBase + s];
              p[pBase + s] = score;
              if (score > max) max = score;
            }
            let total = 0;
            for (let s = 0; s < S; s++) total += p[pBase + s] = Math.exp(p[pBase + s] - max);
            for (let s = 0; s < S; s++) p[pBase + s] /= total;
            for (let d = 0; d < hd; d++) o[qBase + d] = 0;
            for (let s = 0; s < S; s++) {
              const ps = p[pBase + s];
              if (ps === 0) continue;
              for (let d = 0; d < hd; d++) o[qBase + d] += ps * vs[kBase + s * hd + d];
            }
          }
        }
      }
    });
  },
  // dq, dk, dv from dO and the forward's q, k, v, p
  PtAttentionGrad: ({ dO, q, k, v, p }, { scale }, backend) => {
    const [B, nh, T, hd] = q.shape;
    const [, nkv, S] = k.shape;
    const group = nh / nkv;
    return run(backend, [dO, q, k, v, p], [q.shape, k.shape, v.shape], ([dos, qs, ks, vs, ps], [dq, dk, dv]) => {
      dk.fill(0);
      dv.fill(0);
      const ds = new Float32Array(S);
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < nh; h++) {
          const kv = Math.floor(h / group);
          const kBase = (b * nkv + kv) * S * hd;
          for (let t = 0; t < T; t++) {
            const qBase = ((b * nh + h) * T + t) * hd;
            const pBase = ((b * nkv + kv) * group * T + (h % group) * T + t) * S;
            let dot = 0;
            for (let s = 0; s < S; s++) {
              const pv = ps[pBase + s];
              let dp = 0;
              for (let d = 0; d < hd; d++) {
                dp += dos[qBase + d] * vs[kBase + s * hd + d];
                dv[kBase + s * hd + d] += pv * dos[qBase + d];
              }
              ds[s] = dp;
              dot += dp * pv;
            }
            for (let d = 0; d < hd; d++) dq[qBase + d] = 0;
            for (let s = 0; s < S; s++) {
              const g = scale * ps[pBase + s] * (ds[s] - dot);
              if (g === 0) continue;
              for (let d = 0; d < hd; d++) {
                dq[qBase + d] += g * ks[kBase + s * hd + d];
                dk[kBase + s * hd + d] += g * qs[qBase + d];
              }
            }
          }
        }
      }
    });
  },
};

/** Attention forward FLOPs below which the loop kernels beat XNNPACK's per-head products. */
export const WASM_ATTENTION_MAX_FLOPS = 40e6;

export function attentionFlops(q: tf.TensorInfo, k: tf.TensorInfo): number {
  return 4 * sizeOf(q) * k.shape[2];
}

let registered = false;

/** Registers the loop kernels for 'wasm' (idempotent). */
export function registerFusedWasmKernels(): void {
  if (registered) return;
  registered = true;
  for (const [kernelName, fn] of Object.entries(KERNELS)) {
    if (tf.getKernel(kernelName, 'wasm')) continue;
    tf.registerKernel({
      kernelName,
      backendName: 'wasm',
      kernelFunc: ({ inputs, attrs, backend }) => fn(inputs as Inputs, attrs as unknown as Attrs, backend as unknown as WasmBackendLike),
    });
  }
}

export const WASM_FUSED_KERNELS = new Set(Object.keys(KERNELS));
