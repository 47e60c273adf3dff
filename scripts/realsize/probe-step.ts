// Where the time and the WASM heap go in the first prompt-tuning steps of a real-size checkpoint
// (issue 10 item 4, the Qwen2.5-0.5B stall), in Node on WASM:
// Usage: node --no-warnings --import tsx --import ./src/node/register-hooks.mjs scripts/realsize/probe-step.ts <folder> [steps] [batch] [seq]
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/node/backend.ts';
import { FolderSource } from '../../src/node/folder-source.ts';
import { loadModel } from '../../src/engine/load.ts';
import { IGNORE_INDEX } from '../../src/engine/prompt/batch.ts';
import { Rng } from '../../src/engine/random.ts';
import { lossAndGradient, promptLoss } from '../../src/engine/prompt/prompted.ts';

const [folder, stepsArg, batchArg, seqArg] = process.argv.slice(2);
await initNodeBackend('wasm');
const heap = () => {
  const b = tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } };
  return `heap ${(b.wasm.HEAPU8.length / 2 ** 20).toFixed(0)} MB, tf ${(tf.memory().numBytes / 2 ** 20).toFixed(0)} MB, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB`;
};
const t0 = performance.now();
const at = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
console.log(`${at()} start, ${heap()}`);
const lm = await loadModel(new FolderSource(folder));
console.log(`${at()} loaded ${lm.model.parameterCount} params, ${heap()}`);
// The benchmark's batch (bench/step-bench.ts), written out so this script runs against any checkout.
const B = Number(batchArg ?? 8);
const T = Number(seqArg ?? 64);
const rng = new Rng(0);
const ids = Array.from({ length: B }, () => Array.from({ length: T }, () => rng.int(lm.model.config.vocabSize)));
const batch = { inputIds: ids, attentionMask: ids.map((r) => r.map(() => 1)), labels: ids.map((r) => r.map((id, t) => (t >= T - 4 ? id : IGNORE_INDEX))) };
const prompt = tf.variable(tf.fill([20, lm.model.config.hiddenSize], 0.02)) as tf.Variable<tf.Rank.R2>;
for (let s = 0; s < Number(stepsArg ?? 2); s++) {
  let t = performance.now();
  const loss = tf.tidy(() => promptLoss(lm.model, prompt, batch));
  await loss.data();
  loss.dispose();
  console.log(`${at()} forward ${((performance.now() - t) / 1000).toFixed(1)} s, ${heap()}`);
  t = performance.now();
  const r = tf.tidy(() => {
    const { loss: l, grad } = lossAndGradient(lm.model, prompt, batch);
    return [l, grad];
  });
  await r[1].data();
  tf.dispose(r);
  console.log(`${at()} forward+backward ${((performance.now() - t) / 1000).toFixed(1)} s, ${heap()}, numTensors ${tf.memory().numTensors}`);
}
