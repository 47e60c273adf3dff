// What widening packed 16-bit weights costs on WASM next to the products that read them, for
// one transformer layer's matrices (forward x·W and backward dy·Wᵀ, as a training step runs them).
//   node --no-warnings --import tsx --import ./src/node/register-hooks.mjs scripts/measure-widening.ts [--tokens 512] [--shape smollm2|gpt2|qwen2.5]
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../src/node/backend.ts';
import { packedWeight, weightMatMul, widen, type Weight } from '../src/engine/ops/weight.ts';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : process.argv[i + 1];
};
// [in, out] of each matrix of one layer, q/k/v and gate/up fused as the families load them.
const SHAPES: Record<string, [number, number][]> = {
  gpt2: [
    [768, 2304],
    [768, 768],
    [768, 3072],
    [3072, 768],
  ],
  smollm2: [
    [576, 960],
    [576, 576],
    [576, 3072],
    [1536, 576],
  ],
  'qwen2.5': [
    [896, 1152],
    [896, 896],
    [896, 9728],
    [4864, 896],
  ],
};
const shape = arg('shape', 'smollm2');
const tokens = Number(arg('tokens', '512'));
const reps = Number(arg('reps', '5'));

console.log(`backend ${await initNodeBackend()}, ${shape} layer, ${tokens} tokens, best of ${reps}`);
const rand = (n: number) => Uint16Array.from({ length: n }, () => (0x3c00 + Math.floor(Math.random() * 0x3ff)) ^ (Math.random() < 0.5 ? 0x8000 : 0));
const packed: Weight[] = SHAPES[shape].map(([i, o]) => packedWeight(rand(i * o), 'bfloat16', i, o));
const dense = packed.map((w) => widen(w));

function best(f: () => void): number {
  let min = Infinity;
  for (let r = 0; r < reps + 1; r++) {
    const t0 = performance.now();
    f();
    if (r > 0) min = Math.min(min, performance.now() - t0);
  }
  return min;
}

function best1(f: () => void): number {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
}

const xs = SHAPES[shape].map(([i, o]) => [tf.randomNormal([tokens, i]) as tf.Tensor2D, tf.randomNormal([tokens, o]) as tf.Tensor2D]);
const run = (ws: (Weight | tf.Tensor2D)[]) => () => {
  // Both variants: forward x·W and the input gradient dy·Wᵀ as ops/weight.ts computes them on WASM.
  ws.forEach((w, k) => {
    const y = w instanceof tf.Tensor ? tf.matMul(xs[k][0], w) : weightMatMul(xs[k][0], w);
    const dx = w instanceof tf.Tensor ? tf.transpose(tf.matMul(w, tf.transpose(xs[k][1]))) : weightMatMul(xs[k][1], w, true);
    y.dataSync();
    dx.dataSync();
    tf.dispose([y, dx]);
  });
};
// Alternated, best of each: the machine's load drifts between runs.
const widenOnly = best(() => packed.forEach((w) => widen(w).dispose()));
let [f32, bf16] = [Infinity, Infinity];
for (let r = 0; r < reps; r++) {
  f32 = Math.min(f32, best1(run(dense)));
  bf16 = Math.min(bf16, best1(run(packed)));
}
const params = SHAPES[shape].reduce((a, [i, o]) => a + i * o, 0);
const gflop = (2 * 2 * tokens * params) / 1e9;
console.log(`layer: ${(params / 1e6).toFixed(2)}M weights, ${gflop.toFixed(2)} GFLOP (forward + input gradient)`);
console.log(`widening all matrices once: ${widenOnly.toFixed(1)} ms (${((widenOnly * 1e6) / params).toFixed(2)} ns per weight)`);
console.log(`products, float32 weights (XNNPACK caches its packed weights): ${f32.toFixed(1)} ms (${(gflop / (f32 / 1000)).toFixed(1)} GFLOP/s)`);
console.log(
  `products, BF16 weights widened before each product (twice per matrix): ${bf16.toFixed(1)} ms (${(gflop / (bf16 / 1000)).toFixed(1)} GFLOP/s), ${((bf16 / f32 - 1) * 100).toFixed(0)}% more`,
);
