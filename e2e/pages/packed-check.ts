// The packed 16-bit weight kernels (PtUnpack16, PtMatMulPacked) on ?backend=, against float32
// products of the same values widened in JS, over shapes that are and are not multiples of the
// kernels' tiles. Publishes the max relative errors on window.__packedCheck.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/worker/backend.ts';
import type { BackendName } from '../../src/worker/protocol.ts';
import { widenInto } from '../../src/engine/kernels/unpack16.ts';
import { packedWeight, weightMatMul, widen } from '../../src/engine/ops/weight.ts';

export interface PackedCase {
  name: string;
  /** max |a − b| / max(1, max |b|) */
  err: number;
}

function randomHalves(n: number, bf16: boolean, seed: number): Uint16Array {
  let s = seed;
  const out = new Uint16Array(n);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    const v = ((s >>> 8) / 2 ** 24 - 0.5) * 4 * (i % 97 === 0 ? 1e-6 : 1);
    if (bf16) {
      f[0] = v;
      out[i] = u[0] >>> 16;
    } else {
      // Round to F16 through the exponent/mantissa fields (values here are within F16's range; tiny ones become subnormals).
      const a = Math.abs(v);
      const e = a === 0 ? -25 : Math.floor(Math.log2(a));
      const sign = v < 0 ? 0x8000 : 0;
      out[i] = e < -14 ? sign | Math.round(a / 2 ** -24) : sign | ((e + 15) << 10) | (Math.round((a / 2 ** e - 1) * 1024) & 0x3ff);
    }
  }
  return out;
}

const relErr = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let err = 0;
  let scale = 1;
  for (let i = 0; i < b.length; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return err / scale;
};

async function main(): Promise<void> {
  const backend = new URLSearchParams(location.search).get('backend') ?? 'webgpu';
  const { info } = await initBackend(backend as BackendName);
  if (info.name !== backend) throw new Error(`backend ${backend} is not available (${info.notes.join(' ')})`);
  const cases: PackedCase[] = [];
  const shapes: [number, number, number][] = [
    [1, 32, 32],
    [5, 62, 32],
    [13, 32, 62],
    [37, 70, 66],
    [64, 96, 128],
    [8, 200, 34],
  ];
  let seed = 1;
  for (const bf16 of [true, false]) {
    for (const [M, K, N] of shapes) {
      for (const transposeW of [false, true]) {
        const [rows, cols] = transposeW ? [N, K] : [K, N];
        const halves = randomHalves(rows * cols, bf16, seed++);
        const values = new Float32Array(rows * cols);
        widenInto(halves, values, bf16);
        const w = packedWeight(halves, bf16 ? 'bfloat16' : 'float16', rows, cols);
        const x = tf.randomNormal([M, K], 0, 1, 'float32', seed++) as tf.Tensor2D;
        const dense = tf.tensor2d(values, [rows, cols]);
        const want = tf.matMul(x, dense, false, transposeW);
        const got = weightMatMul(x, w, transposeW);
        const unpacked = widen(w);
        const tag = `${bf16 ? 'bf16' : 'f16'} M${M} K${K} N${N}${transposeW ? ' ·Wᵀ' : ''}`;
        cases.push({ name: `product ${tag}`, err: relErr(await got.data(), await want.data()) });
        cases.push({ name: `unpack ${tag}`, err: relErr(await unpacked.data(), values) });
        // The gradient of the product with respect to x: the other orientation of the same kernel.
        const dy = tf.randomNormal(want.shape, 0, 1, 'float32', seed++);
        const g = tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(weightMatMul(xi as tf.Tensor2D, w, transposeW), dy)))(x);
        const gWant = tf.matMul(dy as tf.Tensor2D, dense, false, !transposeW);
        cases.push({ name: `gradient ${tag}`, err: relErr(await g.data(), await gWant.data()) });
        tf.dispose([x, dense, want, got, unpacked, dy, g, gWant]);
        w.dispose();
      }
    }
  }
  (window as unknown as { __packedCheck: unknown }).__packedCheck = { backend: tf.getBackend(), cases, numTensors: tf.memory().numTensors };
}

main().catch((e: Error) => {
  (window as unknown as { __packedCheckError: string }).__packedCheckError = `${e.message}\n${e.stack}`;
});
