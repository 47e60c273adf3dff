import { mkdtempSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { loadWeights } from '../src/engine/io/checkpoint.ts';
import { parseSafetensors, writeSafetensors, type FloatTensor } from '../src/engine/io/safetensors.ts';
import { loadModel } from '../src/engine/load.ts';
import { promptForward } from '../src/engine/prompt/prompted.ts';
import { batchFromJson } from '../src/engine/prompt/batch.ts';
import { initNodeBackend } from '../src/node/backend.ts';
import { FolderSource } from '../src/node/folder-source.ts';
import { LOCAL_FIXTURES, maxAbsDiff, readCase } from './support/fixtures.ts';

const LLAMA = path.join(LOCAL_FIXTURES, 'tiny-llama');

/** A copy of tiny-llama whose weights are split over two shards with an index, as big checkpoints are. */
function shardedCopy(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sharded-'));
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(LLAMA, f), path.join(dir, f));
  const parsed = parseSafetensors(new Uint8Array(readFileSync(path.join(LLAMA, 'model.safetensors'))), 'model.safetensors');
  const shards: Record<string, FloatTensor>[] = [{}, {}];
  const weightMap: Record<string, string> = {};
  parsed.names().forEach((name, i) => {
    shards[i % 2][name] = parsed.get(name);
    weightMap[name] = `model-0000${(i % 2) + 1}-of-00002.safetensors`;
  });
  shards.forEach((s, i) => writeFileSync(path.join(dir, `model-0000${i + 1}-of-00002.safetensors`), writeSafetensors(s, { format: 'pt' })));
  writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  return dir;
}

describe('checkpoints', () => {
  beforeAll(() => initNodeBackend());

  it('loads a sharded checkpoint through model.safetensors.index.json with the same logits', async () => {
    const dir = shardedCopy();
    const weights = await loadWeights(new FolderSource(dir));
    expect(weights.names().length).toBe(parseSafetensors(new Uint8Array(readFileSync(path.join(LLAMA, 'model.safetensors'))), 'm').names().length);
    const sharded = await loadModel(new FolderSource(dir));
    const whole = await loadModel(new FolderSource(LLAMA));
    const batch = batchFromJson(readCase(LLAMA, 'forward').json, 'forward');
    const a = promptForward(sharded.model, null, batch).logits;
    const b = promptForward(whole.model, null, batch).logits;
    expect(maxAbsDiff(a.dataSync(), b.dataSync())).toBe(0);
    tf.dispose([a, b]);
    sharded.dispose();
    whole.dispose();
  });

  it('names a shard the index lists but the folder lacks', async () => {
    const dir = shardedCopy();
    const index = JSON.parse(readFileSync(path.join(dir, 'model.safetensors.index.json'), 'utf8'));
    index.weight_map['model.norm.weight'] = 'model-00003-of-00003.safetensors';
    writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify(index));
    await expect(loadWeights(new FolderSource(dir))).rejects.toThrow(/lists shard model-00003-of-00003.safetensors/);
  });

  it('explains a folder with only pickled weights', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bin-'));
    writeFileSync(path.join(dir, 'pytorch_model.bin.index.json'), '{}');
    await expect(loadWeights(new FolderSource(dir))).rejects.toThrow(/pickled checkpoints are not read/);
  });
});
