import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '/work/main/src/node/backend.ts';
import { buildModel } from '/work/main/src/engine/models/registry.ts';
import { RandomWeights } from '/work/main/src/engine/models/random-weights.ts';
import { BENCH_SHAPES } from '/work/main/src/bench/shapes.ts';
import { benchBatch } from '/work/main/src/bench/step-bench.ts';
import { lossAndGradient } from '/work/main/src/engine/prompt/prompted.ts';
await initNodeBackend(process.argv[2] as any);
const cfg = { ...BENCH_SHAPES['smollm2-135m'], num_hidden_layers: Number(process.argv[3]) };
const model = buildModel(cfg, new RandomWeights(1));
const batch = benchBatch(49152, { batch: 8, seq: 64, virtualTokens: 20, labelTokens: 4, warmup: 1, steps: 2 });
const prompt = tf.variable(tf.randomNormal([20, 576]));
for (let rep=0; rep<2; rep++) {
const t0 = performance.now();
const p = await tf.profile(() => { const { loss, grad } = lossAndGradient(model, prompt, batch); return [loss, grad]; });
const wall = performance.now()-t0;
const agg: Record<string, {ms: number, n: number, bytes: number}> = {};
for (const k of p.kernels) { const key = k.name + ' ' + JSON.stringify(k.outputShapes); agg[key] ??= {ms:0,n:0,bytes:0}; agg[key].ms += k.kernelTimeMs as number; agg[key].n++; agg[key].bytes += k.bytesAdded; }
const top = Object.entries(agg).sort((a,b)=>b[1].ms-a[1].ms).slice(0,12);
console.log('wall', wall.toFixed(0), 'kernel ms', p.kernels.reduce((a,k)=>a+(k.kernelTimeMs as number),0).toFixed(0), 'kernels', p.kernels.length, 'peakMB', (p.peakBytes/1e6).toFixed(0));
if (rep==1) for (const [k,v] of top) console.log(v.ms.toFixed(0).padStart(7), v.n, k);
}
