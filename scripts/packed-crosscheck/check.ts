// The engine's side of the packed-batch cross-check (run.sh): for each model reference.py wrote,
// every row through one DecodeBatch, joining in three waves (so rows join a running batch and
// leave it at different steps), on WASM; each row's ids against PEFT's greedy ids alone, and the
// row's last-position logits alone (promptForward) against PEFT's. Prints one JSON line per model.
//   node --import tsx --import ./src/node/register-hooks.mjs scripts/packed-crosscheck/check.ts OUT_DIR
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { loadMethodAdapter } from '../../src/engine/adapter/method-adapter.ts';
import { loadModel } from '../../src/engine/load.ts';
import { disposeInjection } from '../../src/engine/methods/method.ts';
import { promptForward } from '../../src/engine/prompt/prompted.ts';
import { DecodeBatch, type MixedGenerateRow } from '../../src/engine/serve/mixed-batch.ts';
import { readMethodAdapterFolder } from '../../src/node/adapter-folder.ts';
import { initNodeBackend } from '../../src/node/backend.ts';
import { FolderSource } from '../../src/node/folder-source.ts';

interface Ref {
  adapter: string | null;
  ids: number[];
  max_new: number;
  logits: number[];
  greedy: number[];
}

const out = process.argv[2];
await initNodeBackend('wasm');
for (const family of readdirSync(out)) {
  const dir = path.join(out, family);
  const lm = await loadModel(new FolderSource(dir));
  const refs = JSON.parse(readFileSync(path.join(dir, 'reference.json'), 'utf8')) as Ref[];
  const tuned = new Map(['prompt', 'prefix', 'lora'].map((n) => [n, loadMethodAdapter(readMethodAdapterFolder(path.join(dir, 'adapters', n)), lm.model)]));
  const rows: MixedGenerateRow[] = refs.map((r) => ({ prompt: r.adapter ? tuned.get(r.adapter)! : null, inputIds: r.ids, options: { maxNewTokens: r.max_new, greedy: true } }));
  const got = new Map<MixedGenerateRow, number[]>();
  const batch = new DecodeBatch(lm.model);
  for (const wave of [rows.slice(0, 3), rows.slice(3, 6), rows.slice(6)]) {
    batch.add(wave);
    for (let i = 0; i < 3; i++) for (const f of await batch.step()) got.set(f.row, f.ids);
  }
  while (batch.size) for (const f of await batch.step()) got.set(f.row, f.ids);
  batch.dispose();
  let maxDiff = 0;
  let maxLogit = 0;
  const equal = refs.map((r, i) => {
    const logits = tf.tidy(() => {
      const { logits } = promptForward(lm.model, rows[i].prompt, { inputIds: [r.ids], attentionMask: [r.ids.map(() => 1)], labels: [r.ids.map(() => -100)] });
      const [, S, V] = logits.shape;
      return tf.reshape(tf.slice(logits, [0, S - 1, 0], [1, 1, V]), [V]);
    });
    const mine = logits.dataSync();
    logits.dispose();
    r.logits.forEach((x, j) => {
      maxDiff = Math.max(maxDiff, Math.abs(x - mine[j]));
      maxLogit = Math.max(maxLogit, Math.abs(x));
    });
    return JSON.stringify(got.get(rows[i])) === JSON.stringify(r.greedy);
  });
  console.log(JSON.stringify({ family, rows: refs.map((r) => `${r.adapter ?? 'base'}:${r.ids.length}`), greedyEqual: equal, maxLastLogitDiff: maxDiff, maxAbsLogit: maxLogit }));
  for (const t of tuned.values()) disposeInjection(t);
  lm.dispose();
}
