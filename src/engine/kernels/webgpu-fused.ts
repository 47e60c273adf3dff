// Fused WebGPU kernels for the elementwise and row-wise parts of a block, each one dispatch
// where the composite tfjs ops take five to ten (RMSNorm alone is square, mean, add, rsqrt,
// mul, mul). kernels/registry.ts registers them for the 'webgpu' backend; ops/fused.ts calls them
// there and falls back to composite ops on every backend without them.
import * as tf from '@tensorflow/tfjs-core';

export interface WebGPUProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  size?: boolean;
  uniforms?: string;
  getUserCode(): string;
}

export interface WebGPUBackendLike {
  runWebGPUProgram(program: WebGPUProgram, inputs: tf.TensorInfo[], dtype: tf.DataType, uniforms?: { type: string; data: number[] }[]): tf.TensorInfo;
}

const ROW_BLOCK = 64;

/** One workgroup per row of `rows` x `cols`; `body` sees row, tid, cols and the shared buffer `buf`. */
function rowProgram(key: string, inputs: string[], rows: number, cols: number, body: string, uniforms = ''): WebGPUProgram {
  return {
    variableNames: inputs,
    outputShape: [rows, cols],
    shaderKey: `pt_${key}_${ROW_BLOCK}`,
    dispatchLayout: { x: [0, 1] },
    dispatch: [rows, 1, 1],
    workgroupSize: [ROW_BLOCK, 1, 1],
    uniforms: `cols : i32, ${uniforms}`,
    getUserCode: () => `
      var<workgroup> buf : array<f32, ${ROW_BLOCK}>;
      const blockSize = ${ROW_BLOCK};
      fn rowSum(value : f32, tid : i32) -> f32 {
        workgroupBarrier();
        buf[tid] = value;
        workgroupBarrier();
        for (var size = blockSize >> 1; size > 0; size = size >> 1) {
          if (tid < size) { buf[tid] = buf[tid] + buf[tid + size]; }
          workgroupBarrier();
        }
        let total = buf[0];
        workgroupBarrier();
        return total;
      }
      fn main(index : i32) {
        let row = index / blockSize;
        let tid = i32(localId.x);
        let cols = uniforms.cols;
        let base = row * cols;
        ${body}
      }`,
  };
}

/** One invocation per output element. */
function elementProgram(key: string, inputs: string[], outputShape: number[], body: string, uniforms = ''): WebGPUProgram {
  const size = outputShape.reduce((a, b) => a * b, 1);
  return {
    variableNames: inputs,
    outputShape,
    shaderKey: `pt_${key}`,
    dispatchLayout: { x: outputShape.map((_, i) => i) },
    dispatch: [Math.ceil(size / 128), 1, 1],
    workgroupSize: [128, 1, 1],
    size: true,
    uniforms,
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          ${body}
        }
      }`,
  };
}

/** WGSL: the row's mean and 1 / std of x, as \`mean\` and \`r\` (LayerNorm and its gradient). */
const ROW_MEAN_RSTD = `
      var s = 0.0;
      for (var c = tid; c < cols; c += blockSize) { s += x[base + c]; }
      let mean = rowSum(s, tid) / f32(cols);
      var ss = 0.0;
      for (var c = tid; c < cols; c += blockSize) { let d = x[base + c] - mean; ss += d * d; }
      let r = inverseSqrt(rowSum(ss, tid) / f32(cols) + uniforms.eps);`;

const GELU = `
  fn geluTanh(v : f32) -> f32 {
    return 0.5 * v * (1.0 + tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
  }
  fn geluTanhGrad(v : f32) -> f32 {
    let t = tanh(0.7978845608028654 * (v + 0.044715 * v * v * v));
    return 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * 0.7978845608028654 * (1.0 + 3.0 * 0.044715 * v * v);
  }`;

type Run = (backend: WebGPUBackendLike, program: WebGPUProgram, inputs: tf.TensorInfo[], uniforms?: { type: string; data: number[] }[]) => tf.TensorInfo;
const run: Run = (backend, program, inputs, uniforms) => backend.runWebGPUProgram(program, inputs, 'float32', uniforms);

const lastDim = (t: tf.TensorInfo) => t.shape[t.shape.length - 1];
const rowsOf = (t: tf.TensorInfo) => t.shape.reduce((a, b) => a * b, 1) / lastDim(t);

/** name → (inputs, attrs, backend) → output, for the 'webgpu' backend. */
export const WEBGPU_FUSED_KERNELS: Record<string, (inputs: Record<string, tf.TensorInfo>, attrs: Record<string, number>, backend: WebGPUBackendLike) => tf.TensorInfo> = {
  // y = w ⊙ x / rms(x)
  PtRmsNorm: ({ x, w }, { eps }, backend) => {
    const cols = lastDim(x);
    const p = rowProgram(
      'rmsnorm',
      ['x', 'w'],
      rowsOf(x),
      cols,
      `
      var ss = 0.0;
      for (var c = tid; c < cols; c += blockSize) { let v = x[base + c]; ss += v * v; }
      let r = inverseSqrt(rowSum(ss, tid) / f32(cols) + uniforms.eps);
      for (var c = tid; c < cols; c += blockSize) { setOutputAtIndex(base + c, w[c] * x[base + c] * r); }`,
      'eps : f32,',
    );
    return reshapeTo(
      run(
        backend,
        p,
        [x, w],
        [
          { type: 'int32', data: [cols] },
          { type: 'float32', data: [eps] },
        ],
      ),
      x.shape,
    );
  },
  // dx = r (g − x r² mean(g ⊙ x)), g = dy ⊙ w
  PtRmsNormGrad: ({ dy, x, w }, { eps }, backend) => {
    const cols = lastDim(x);
    const p = rowProgram(
      'rmsnorm_grad',
      ['dy', 'x', 'w'],
      rowsOf(x),
      cols,
      `
      var ss = 0.0;
      var gx = 0.0;
      for (var c = tid; c < cols; c += blockSize) { let v = x[base + c]; ss += v * v; gx += dy[base + c] * w[c] * v; }
      let r = inverseSqrt(rowSum(ss, tid) / f32(cols) + uniforms.eps);
      let proj = rowSum(gx, tid) / f32(cols);
      for (var c = tid; c < cols; c += blockSize) {
        setOutputAtIndex(base + c, r * (dy[base + c] * w[c] - x[base + c] * r * r * proj));
      }`,
      'eps : f32,',
    );
    return reshapeTo(
      run(
        backend,
        p,
        [dy, x, w],
        [
          { type: 'int32', data: [cols] },
          { type: 'float32', data: [eps] },
        ],
      ),
      x.shape,
    );
  },
  // y = (x − μ) / σ ⊙ γ + β
  PtLayerNorm: ({ x, g, b }, { eps }, backend) => {
    const cols = lastDim(x);
    const p = rowProgram(
      'layernorm',
      ['x', 'g', 'b'],
      rowsOf(x),
      cols,
      `
      ${ROW_MEAN_RSTD}
      for (var c = tid; c < cols; c += blockSize) { setOutputAtIndex(base + c, (x[base + c] - mean) * r * g[c] + b[c]); }`,
      'eps : f32,',
    );
    return reshapeTo(
      run(
        backend,
        p,
        [x, g, b],
        [
          { type: 'int32', data: [cols] },
          { type: 'float32', data: [eps] },
        ],
      ),
      x.shape,
    );
  },
  // dx = r (h − mean h − x̂ mean(h ⊙ x̂)), h = dy ⊙ γ
  PtLayerNormGrad: ({ dy, x, g }, { eps }, backend) => {
    const cols = lastDim(x);
    const p = rowProgram(
      'layernorm_grad',
      ['dy', 'x', 'g'],
      rowsOf(x),
      cols,
      `
      ${ROW_MEAN_RSTD}
      var hs = 0.0;
      var hx = 0.0;
      for (var c = tid; c < cols; c += blockSize) { let h = dy[base + c] * g[c]; hs += h; hx += h * (x[base + c] - mean) * r; }
      let meanH = rowSum(hs, tid) / f32(cols);
      let meanHX = rowSum(hx, tid) / f32(cols);
      for (var c = tid; c < cols; c += blockSize) {
        let xhat = (x[base + c] - mean) * r;
        setOutputAtIndex(base + c, r * (dy[base + c] * g[c] - meanH - xhat * meanHX));
      }`,
      'eps : f32,',
    );
    return reshapeTo(
      run(
        backend,
        p,
        [dy, x, g],
        [
          { type: 'int32', data: [cols] },
          { type: 'float32', data: [eps] },
        ],
      ),
      x.shape,
    );
  },
  // p = softmax(scale · s + bias), bias [B, 1 or heads, T, S] broadcast over the heads of s [B, heads, T, S]
  PtScaledSoftmax: ({ s, bias }, { scale }, backend) => {
    const [B, heads, T, S] = s.shape;
    const biasHeads = bias.shape[1];
    const p = rowProgram(
      'scaled_softmax',
      ['s', 'bias'],
      B * heads * T,
      S,
      `
      let t = row % uniforms.T;
      let h = (row / uniforms.T) % uniforms.heads;
      let bRow = row / (uniforms.T * uniforms.heads);
      let biasBase = ((bRow * uniforms.biasHeads + (h % uniforms.biasHeads)) * uniforms.T + t) * cols;
      var m = -3.402823e+38f;
      for (var c = tid; c < cols; c += blockSize) { m = max(m, s[base + c] * uniforms.scale + bias[biasBase + c]); }
      workgroupBarrier();
      buf[tid] = m;
      workgroupBarrier();
      for (var size = blockSize >> 1; size > 0; size = size >> 1) {
        if (tid < size) { buf[tid] = max(buf[tid], buf[tid + size]); }
        workgroupBarrier();
      }
      let rowMax = buf[0];
      var e = 0.0;
      for (var c = tid; c < cols; c += blockSize) { e += exp(s[base + c] * uniforms.scale + bias[biasBase + c] - rowMax); }
      let total = rowSum(e, tid);
      for (var c = tid; c < cols; c += blockSize) {
        setOutputAtIndex(base + c, exp(s[base + c] * uniforms.scale + bias[biasBase + c] - rowMax) / total);
      }`,
      'T : i32, heads : i32, biasHeads : i32, scale : f32,',
    );
    const out = run(
      backend,
      p,
      [reshapeTo(s, [B * heads * T, S]), reshapeTo(bias, [B * biasHeads * T, S])],
      [
        { type: 'int32', data: [S] },
        { type: 'int32', data: [T] },
        { type: 'int32', data: [heads] },
        { type: 'int32', data: [biasHeads] },
        { type: 'float32', data: [scale] },
      ],
    );
    return reshapeTo(out, s.shape);
  },
  // ds = scale · p ⊙ (dp − Σ dp ⊙ p)
  PtSoftmaxGrad: ({ p, dp }, { scale }, backend) => {
    const cols = lastDim(p);
    const prog = rowProgram(
      'softmax_grad',
      ['p', 'dp'],
      rowsOf(p),
      cols,
      `
      var d = 0.0;
      for (var c = tid; c < cols; c += blockSize) { d += dp[base + c] * p[base + c]; }
      let dot = rowSum(d, tid);
      for (var c = tid; c < cols; c += blockSize) { setOutputAtIndex(base + c, uniforms.scale * p[base + c] * (dp[base + c] - dot)); }`,
      'scale : f32,',
    );
    return reshapeTo(
      run(
        backend,
        prog,
        [p, dp],
        [
          { type: 'int32', data: [cols] },
          { type: 'float32', data: [scale] },
        ],
      ),
      p.shape,
    );
  },
  // h = silu(gate) ⊙ up, from gu = [gate | up] along the last axis
  PtSwiGlu: ({ gu }, _attrs, backend) => {
    const F = lastDim(gu) / 2;
    const shape = [...gu.shape.slice(0, -1), F];
    const p = elementProgram(
      'swiglu',
      ['gu'],
      shape,
      `
      let row = index / uniforms.F;
      let col = index % uniforms.F;
      let g = gu[row * 2 * uniforms.F + col];
      let u = gu[row * 2 * uniforms.F + uniforms.F + col];
      setOutputAtIndex(index, g / (1.0 + exp(-g)) * u);`,
      'F : i32,',
    );
    return run(backend, p, [gu], [{ type: 'int32', data: [F] }]);
  },
  // [dgate | dup] from gu and dh
  PtSwiGluGrad: ({ gu, dh }, _attrs, backend) => {
    const F = lastDim(gu) / 2;
    const p = elementProgram(
      'swiglu_grad',
      ['gu', 'dh'],
      gu.shape,
      `
      let row = index / (2 * uniforms.F);
      let col = index % (2 * uniforms.F);
      let k = col % uniforms.F;
      let g = gu[row * 2 * uniforms.F + k];
      let u = gu[row * 2 * uniforms.F + uniforms.F + k];
      let d = dh[row * uniforms.F + k];
      let sg = 1.0 / (1.0 + exp(-g));
      if (col < uniforms.F) {
        setOutputAtIndex(index, d * u * sg * (1.0 + g * (1.0 - sg)));
      } else {
        setOutputAtIndex(index, d * g * sg);
      }`,
      'F : i32,',
    );
    return run(backend, p, [gu, dh], [{ type: 'int32', data: [F] }]);
  },
  PtGelu: ({ x }, _attrs, backend) => run(backend, withPrelude(GELU, elementProgram('gelu', ['x'], x.shape, 'setOutputAtIndex(index, geluTanh(x[index]));')), [x]),
  PtGeluGrad: ({ dy, x }, _attrs, backend) =>
    run(backend, withPrelude(GELU, elementProgram('gelu_grad', ['dy', 'x'], x.shape, 'setOutputAtIndex(index, dy[index] * geluTanhGrad(x[index]));')), [dy, x]),
  // RoPE on x [B, heads, T, hd] with cos/sin [T, hd] (all rows) or [B * T, hd] (per-row positions);
  // inverse = 1 applies the transpose rotation (backward)
  PtRope: ({ x, cos, sin }, { inverse }, backend) => {
    const [, heads, T, hd] = x.shape;
    const p = elementProgram(
      inverse ? 'rope_inv' : 'rope',
      ['x', 'cos', 'sin'],
      x.shape,
      `
      let d = index % uniforms.hd;
      let n = index / uniforms.hd;
      let t = n % uniforms.T;
      let b = n / (uniforms.heads * uniforms.T);
      let half = uniforms.hd / 2;
      let tab = ((b * uniforms.T + t) % uniforms.R) * uniforms.hd + d;
      var partner = 0.0;
      ${
        inverse
          ? 'if (d < half) { partner = x[index + half] * sin[tab + half]; } else { partner = -x[index - half] * sin[tab - half]; }'
          : 'if (d < half) { partner = -x[index + half] * sin[tab]; } else { partner = x[index - half] * sin[tab]; }'
      }
      setOutputAtIndex(index, x[index] * cos[tab] + partner);`,
      'T : i32, hd : i32, heads : i32, R : i32,',
    );
    return run(
      backend,
      p,
      [x, cos, sin],
      [
        { type: 'int32', data: [T] },
        { type: 'int32', data: [hd] },
        { type: 'int32', data: [heads] },
        { type: 'int32', data: [cos.shape[0]] },
      ],
    );
  },
};

function withPrelude(prelude: string, program: WebGPUProgram): WebGPUProgram {
  const user = program.getUserCode;
  return { ...program, getUserCode: () => prelude + user() };
}

/** Same data, new shape (tfjs tensors are immutable, so a reshape is a new view of the buffer). */
function reshapeTo(t: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  return { dataId: t.dataId, shape, dtype: t.dtype };
}
