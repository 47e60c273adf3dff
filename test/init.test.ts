import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FilesSource } from '../src/engine/io/source.ts';
import { loadModel, type LoadedModel } from '../src/engine/load.ts';
import { initSoftPrompt, parseInitKind } from '../src/engine/prompt/init.ts';
import { initNodeBackend } from '../src/node/backend.ts';
import { readFileSync, readdirSync } from 'node:fs';
import { LOCAL_FIXTURES } from './support/fixtures.ts';

let lm: LoadedModel;

beforeAll(async () => {
  await initNodeBackend();
  // Browser File objects, as a directory picker or drag and drop gives them.
  const dir = path.join(LOCAL_FIXTURES, 'tiny-gpt2');
  const files = readdirSync(dir)
    .filter((f) => f.includes('.'))
    .map((name) => ({ name: `tiny-gpt2/${name}`, blob: new Blob([readFileSync(path.join(dir, name))]) }));
  lm = await loadModel(new FilesSource('tiny-gpt2', files));
});

describe('soft prompt init', () => {
  it('loads a model from browser File objects', async () => {
    expect(lm.origin).toEqual({ kind: 'files', id: 'tiny-gpt2', revision: null, commit: null });
    expect(lm.model.config.vocabSize).toBe(507);
  });

  it('SAMPLE_VOCAB takes embedding rows of seeded uniform ids', async () => {
    const a = await initSoftPrompt(lm.model, lm.tokenizer, { kind: 'SAMPLE_VOCAB', numVirtualTokens: 50, seed: 1 });
    const b = await initSoftPrompt(lm.model, lm.tokenizer, { kind: 'SAMPLE_VOCAB', numVirtualTokens: 50, seed: 1 });
    const c = await initSoftPrompt(lm.model, lm.tokenizer, { kind: 'SAMPLE_VOCAB', numVirtualTokens: 50, seed: 2 });
    expect(a.initIds).toEqual(b.initIds);
    expect(a.initIds).not.toEqual(c.initIds);
    expect(a.initIds!.every((id) => id >= 0 && id < 507)).toBe(true);
    const row = await lm.model.embeddings.rowValues([a.initIds![0]]);
    expect(Array.from(a.values.slice(0, 32))).toEqual(Array.from(row));
    expect(row.some((v) => v !== 0)).toBe(true);
  });

  it('RANDOM draws N(0, 1), reproducibly from the seed', async () => {
    const p = await initSoftPrompt(lm.model, lm.tokenizer, { kind: 'RANDOM', numVirtualTokens: 100, seed: 9 });
    const q = await initSoftPrompt(lm.model, lm.tokenizer, { kind: 'RANDOM', numVirtualTokens: 100, seed: 9 });
    expect(Array.from(p.values)).toEqual(Array.from(q.values));
    const n = p.values.length;
    const mean = p.values.reduce((a, b) => a + b, 0) / n;
    const variance = p.values.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(Math.abs(variance - 1)).toBeLessThan(0.08);
    expect(p.initIds).toBeNull();
  });

  it('explains bad init settings', async () => {
    await expect(initSoftPrompt(lm.model, lm.tokenizer, { kind: 'TEXT', numVirtualTokens: 4 })).rejects.toThrow(/TEXT init needs an init text/);
    await expect(initSoftPrompt(lm.model, lm.tokenizer, { kind: 'RANDOM', numVirtualTokens: 0 })).rejects.toThrow(/positive integer/);
    await expect(initSoftPrompt(lm.model, lm.tokenizer, { kind: 'RANDOM', numVirtualTokens: 128 })).rejects.toThrow(/leaves no room in the model's 128-token context/);
    expect(parseInitKind('PromptTuningInit.SAMPLE_VOCAB')).toBe('SAMPLE_VOCAB');
    expect(parseInitKind('text')).toBe('TEXT');
  });
});
