// WebGPU kernels that read packed 16-bit weights (ops/weight.ts) directly: no float32 copy of a
// weight is ever made. Each word holds two values; F16 is decoded bit by bit (exact for
// subnormals too, where unpack2x16float may flush them to zero), BF16 is a 16-bit shift.
// tfjs's own WebGPU kernels pass int32 values through f32 (Gather, Concat, Slice read inputs as
// f32), which rounds words above 2^24: so every operation on packed words is one of these kernels.
import * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackendLike, WebGPUProgram } from './webgpu-fused.ts';

/** WGSL `widen16(h)`: the float32 value of the 16-bit pattern h, and `packedAt(buf, i)`: value i of a packed buffer. */
function widenWgsl(bf16: boolean, buffer: string): string {
  const widen = bf16
    ? `fn widen16(h : u32) -> f32 { return bitcast<f32>(h << 16u); }`
    : `fn widen16(h : u32) -> f32 {
        let s = (h & 0x8000u) << 16u;
        let e = (h >> 10u) & 0x1fu;
        let m = h & 0x3ffu;
        if (e == 0u) {
          let v = f32(m) * 5.9604644775390625e-8;
          return select(v, -v, s != 0u);
        }
        if (e == 31u) { return bitcast<f32>(s | 0x7f800000u | (m << 13u)); }
        return bitcast<f32>(s | ((e + 112u) << 23u) | (m << 13u));
      }`;
  return `${widen}
      fn packedAt(i : i32) -> f32 {
        let w = bitcast<u32>(${buffer}[i >> 1u]);
        return widen16((w >> (u32(i & 1) * 16u)) & 0xffffu);
      }`;
}

/** A flat 1-D dispatch of `size` invocations that stays within 65,535 workgroups per dimension. */
function flatDispatch(size: number, group: number): [number, number, number] {
  const groups = Math.ceil(size / group);
  const x = Math.min(groups, 65535);
  return [x, Math.ceil(groups / x), 1];
}

const TILE = 32;
/** Products with at most this many rows in a (the LM head at a few label positions, decoding) take the row-loop kernel. */
const SKINNY_ROWS = 8;

/** a [M ≤ SKINNY_ROWS, K] · B: one invocation per output column, looping over K for all M rows (no tile padding, no barriers). */
function skinnyProgram(M: number, N: number, bf16: number, transposeB: number): WebGPUProgram {
  return {
    variableNames: ['a', 'b'],
    outputShape: [M, N],
    shaderKey: `pt_matmul_packed_skinny_${bf16}_${transposeB}_${M}`,
    dispatchLayout: { x: [0, 1] },
    dispatch: flatDispatch(N, 64),
    workgroupSize: [64, 1, 1],
    uniforms: 'M : i32, N : i32, K : i32,',
    getUserCode: () => `
      ${widenWgsl(bf16 === 1, 'b')}
      fn main(index : i32) {
        let N = uniforms.N;
        let K = uniforms.K;
        if (index < N) {
          var acc : array<f32, ${M}>;
          for (var k = 0; k < K; k++) {
            let w = packedAt(${transposeB ? 'index * K + k' : 'k * N + index'});
            for (var r = 0; r < ${M}; r++) { acc[r] = acc[r] + a[r * K + k] * w; }
          }
          for (var r = 0; r < ${M}; r++) { setOutputAtIndex(r * N + index, acc[r]); }
        }
      }`,
  };
}

export const WEBGPU_PACKED_KERNELS: Record<string, (inputs: Record<string, tf.TensorInfo>, attrs: Record<string, number>, backend: WebGPUBackendLike) => tf.TensorInfo> = {
  // packed int32 words [..., n / 2] → float32 [..., n]
  PtUnpack16: ({ x }, { bf16 }, backend) => {
    const outputShape = [...x.shape.slice(0, -1), x.shape[x.shape.length - 1] * 2];
    const size = outputShape.reduce((a, b) => a * b, 1);
    const program: WebGPUProgram = {
      variableNames: ['x'],
      outputShape,
      shaderKey: `pt_unpack16_${bf16}`,
      dispatchLayout: { x: outputShape.map((_, i) => i) },
      dispatch: flatDispatch(size, 128),
      workgroupSize: [128, 1, 1],
      size: true,
      getUserCode: () => `
        ${widenWgsl(bf16 === 1, 'x')}
        fn main(index : i32) {
          if (index < uniforms.size) { setOutputAtIndex(index, packedAt(index)); }
        }`,
    };
    return backend.runWebGPUProgram(program, [x], 'float32');
  },
  // rows `ids` of a packed table [rows, cols / 2] → float32 [ids.length, cols]
  PtGatherPacked: ({ table, ids }, { bf16 }, backend) => {
    const cols = table.shape[1] * 2;
    const outputShape = [ids.shape[0], cols];
    const size = outputShape[0] * cols;
    const program: WebGPUProgram = {
      variableNames: ['table', 'ids'],
      outputShape,
      shaderKey: `pt_gather_packed_${bf16}`,
      dispatchLayout: { x: [0, 1] },
      dispatch: flatDispatch(size, 128),
      workgroupSize: [128, 1, 1],
      size: true,
      uniforms: 'cols : i32,',
      getUserCode: () => `
        ${widenWgsl(bf16 === 1, 'table')}
        fn main(index : i32) {
          if (index < uniforms.size) {
            let r = index / uniforms.cols;
            let c = index - r * uniforms.cols;
            setOutputAtIndex(index, packedAt(ids[r] * uniforms.cols + c));
          }
        }`,
    };
    return backend.runWebGPUProgram(program, [table, ids], 'float32', [{ type: 'int32', data: [cols] }]);
  },
  // packed parts [rows, w_i] (words) joined along the last axis → int32 [rows, Σ w_i], words copied exactly
  PtConcatPacked: (inputs, _attrs, backend) => {
    const parts = Object.keys(inputs)
      .sort()
      .map((k) => inputs[k]);
    const widths = parts.map((p) => p.shape[1]);
    const total = widths.reduce((a, b) => a + b, 0);
    const rows = parts[0].shape[0];
    const names = parts.map((_, i) => `p${i}`);
    let branches = '';
    let start = 0;
    names.forEach((n, i) => {
      branches += `${i ? ' else ' : ''}if (j < ${start + widths[i]}) { setOutputAtIndexI32(index, ${n}[r * ${widths[i]} + j - ${start}]); }`;
      start += widths[i];
    });
    const program: WebGPUProgram = {
      variableNames: names,
      outputShape: [rows, total],
      shaderKey: `pt_concat_packed_${widths.join('_')}`,
      dispatchLayout: { x: [0, 1] },
      dispatch: flatDispatch(rows * total, 128),
      workgroupSize: [128, 1, 1],
      size: true,
      getUserCode: () => `
        fn main(index : i32) {
          if (index < uniforms.size) {
            let r = index / ${total};
            let j = index - r * ${total};
            ${branches}
          }
        }`,
    };
    return backend.runWebGPUProgram(program, parts, 'int32');
  },
  // a [M, K] · B → [M, N], B packed: logical [K, N], or [N, K] read transposed when transposeB = 1.
  // 32 x 32 output tiles, each of the 64 invocations accumulating 4 x 4 of them over 32-deep K steps.
  PtMatMulPacked: ({ a, b }, { bf16, transposeB }, backend) => {
    const [M, K] = a.shape;
    const bCols = b.shape[1] * 2;
    const N = transposeB ? b.shape[0] : bCols;
    if ((transposeB ? bCols : b.shape[0]) !== K)
      throw new Error(`PtMatMulPacked: inner sizes differ (a ${JSON.stringify(a.shape)}, packed b ${JSON.stringify([b.shape[0], bCols])}, transposeB ${transposeB})`);
    const uniforms = [
      { type: 'int32', data: [M] },
      { type: 'int32', data: [N] },
      { type: 'int32', data: [K] },
    ];
    if (M <= SKINNY_ROWS) return backend.runWebGPUProgram(skinnyProgram(M, N, bf16, transposeB), [a, b], 'float32', uniforms);
    // Which tile element each invocation loads: along the buffer's rows, so neighbours read neighbouring words.
    const loadB = transposeB
      ? `let kk = e % ${TILE}; let nn = e / ${TILE}; let gk = k0 + kk; let gn = col0 + nn;
         var v = 0.0;
         if (gk < K && gn < N) { v = packedAt(gn * K + gk); }
         tileB[kk][nn] = v;`
      : `let kk = e / ${TILE}; let nn = e % ${TILE}; let gk = k0 + kk; let gn = col0 + nn;
         var v = 0.0;
         if (gk < K && gn < N) { v = packedAt(gk * N + gn); }
         tileB[kk][nn] = v;`;
    const program: WebGPUProgram = {
      variableNames: ['a', 'b'],
      outputShape: [M, N],
      shaderKey: `pt_matmul_packed_${bf16}_${transposeB}`,
      dispatchLayout: { x: [1], y: [0] } as unknown as { x: number[] },
      dispatch: [Math.ceil(N / TILE), Math.ceil(M / TILE), 1],
      workgroupSize: [8, 8, 1],
      uniforms: 'M : i32, N : i32, K : i32,',
      getUserCode: () => `
        ${widenWgsl(bf16 === 1, 'b')}
        var<workgroup> tileA : array<array<f32, ${TILE}>, ${TILE}>;
        var<workgroup> tileB : array<array<f32, ${TILE}>, ${TILE}>;
        fn main() {
          let M = uniforms.M;
          let N = uniforms.N;
          let K = uniforms.K;
          let tx = i32(localId.x);
          let ty = i32(localId.y);
          let tid = ty * 8 + tx;
          let col0 = i32(workgroupId.x) * ${TILE};
          let row0 = i32(workgroupId.y) * ${TILE};
          var acc : array<array<f32, 4>, 4>;
          for (var k0 = 0; k0 < K; k0 += ${TILE}) {
            for (var i = 0; i < ${(TILE * TILE) / 64}; i++) {
              let e = tid + i * 64;
              let r = e / ${TILE};
              let c = e % ${TILE};
              let gr = row0 + r;
              let gc = k0 + c;
              var v = 0.0;
              if (gr < M && gc < K) { v = a[gr * K + gc]; }
              tileA[r][c] = v;
            }
            for (var i = 0; i < ${(TILE * TILE) / 64}; i++) {
              let e = tid + i * 64;
              ${loadB}
            }
            workgroupBarrier();
            for (var k = 0; k < ${TILE}; k++) {
              var bv : array<f32, 4>;
              for (var j = 0; j < 4; j++) { bv[j] = tileB[k][tx + j * 8]; }
              for (var i = 0; i < 4; i++) {
                let av = tileA[ty + i * 8][k];
                for (var j = 0; j < 4; j++) { acc[i][j] = acc[i][j] + av * bv[j]; }
              }
            }
            workgroupBarrier();
          }
          for (var i = 0; i < 4; i++) {
            let r = row0 + ty + i * 8;
            for (var j = 0; j < 4; j++) {
              let c = col0 + tx + j * 8;
              if (r < M && c < N) { setOutputAtIndex(r * N + c, acc[i][j]); }
            }
          }
        }`,
    };
    return backend.runWebGPUProgram(program, [a, b], 'float32', uniforms);
  },
};
