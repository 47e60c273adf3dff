import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '/work/main/src/node/backend.ts';
await initNodeBackend('wasm');
const x = tf.randomNormal([672, 576]); const W = tf.randomNormal([576, 576]); const W2 = tf.randomNormal([576,1536]);
async function t(name: string, f: () => tf.Tensor, flops: number) {
  await f().data();
  const t0 = performance.now(); const n=5; for (let i=0;i<n;i++){ const c=f(); await c.data(); c.dispose(); }
  const s=(performance.now()-t0)/1000/n; console.log(name.padEnd(30), (s*1000).toFixed(1),'ms', (flops/s/1e9).toFixed(1),'GFLOP/s');
}
await t('x W', () => tf.matMul(x, W), 2*672*576*576);
await t('x W^T', () => tf.matMul(x, W, false, true), 2*672*576*576);
await t('x^T x', () => tf.matMul(x, x, true, false), 2*672*576*576);
await t('x W2', () => tf.matMul(x, W2), 2*672*576*1536);
await t('x W2 3d', () => tf.matMul(tf.reshape(x,[1,672,576]), tf.reshape(W2,[1,576,1536])), 2*672*576*1536);
const y = tf.randomNormal([672,1536]);
await t('y W2^T', () => tf.matMul(y, W2, false, true), 2*672*576*1536);
const xs = tf.randomNormal([8,84,576]);
await t('x(3d) W', () => tf.matMul(tf.reshape(xs,[672,576]), W), 2*672*576*576);
