// serve_peft.py (engine/adapter/serve-script.ts) against the engine: scripts/serve-crosscheck/run.sh
// ran the generated script's mixed batch with transformers + PEFT and PEFT's generate row by row
// (test/fixtures/serve/crosscheck.json); the engine's mixed batch must give the same ids, and the
// script those numbers came from must be the one the generator writes today.
import * as tf from '@tensorflow/tfjs-core';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { serveScript } from '../src/engine/adapter/serve-script.ts';
import { loadModel } from '../src/engine/load.ts';
import { mixedGenerate } from '../src/engine/serve/mixed-batch.ts';
import { readAdapterFolder } from '../src/node/adapter-folder.ts';
import { initNodeBackend } from '../src/node/backend.ts';
import { FolderSource } from '../src/node/folder-source.ts';
import { LOCAL_FIXTURES } from './support/fixtures.ts';

const SERVE = path.join(LOCAL_FIXTURES, 'serve');
const crosscheck = JSON.parse(readFileSync(path.join(SERVE, 'crosscheck.json'), 'utf8')) as Record<
  string,
  { rows: { model: string; prompt: string | number[]; max_tokens: number }[]; serve_peft_ids: number[][]; peft_alone_ids: number[][]; serve_peft_sha256: string }
>;

describe.each(Object.keys(crosscheck))('serve_peft.py on %s', (model) => {
  const c = crosscheck[model];

  it('is the script the generator writes (else rerun scripts/serve-crosscheck/run.sh)', () => {
    expect(
      createHash('sha256')
        .update(serveScript({ baseModel: model, revision: null }))
        .digest('hex'),
    ).toBe(c.serve_peft_sha256);
  });

  it('its mixed batch, PEFT row by row, and the engine mixed batch give the same ids', async () => {
    expect(c.serve_peft_ids).toEqual(c.peft_alone_ids);
    await initNodeBackend();
    const dir = path.join(LOCAL_FIXTURES, model);
    const lm = await loadModel(new FolderSource(dir));
    const folder = (name: string) => (name === 'trained' ? path.join(dir, 'cases/forward/adapter') : path.join(SERVE, model, name));
    const H = lm.model.config.hiddenSize;
    const prompts = c.rows.map((r) => {
      if (r.model === model) return null;
      const a = readAdapterFolder(folder(r.model));
      return tf.tensor2d(a.promptEmbeddings, [a.config.numVirtualTokens, H]);
    });
    expect(readAdapterFolder(folder('ptuning')).config.peftType).toBe('P_TUNING');
    const ids = await mixedGenerate(
      lm.model,
      c.rows.map((r, b) => ({
        prompt: prompts[b],
        inputIds: typeof r.prompt === 'string' ? lm.tokenizer.encode(r.prompt) : r.prompt,
        options: { maxNewTokens: r.max_tokens, greedy: true, stopTokenIds: [lm.eosTokenId] },
      })),
    );
    expect(ids).toEqual(c.peft_alone_ids);
    for (const p of prompts) p?.dispose();
    lm.dispose();
  });
});

describe('serveScript', () => {
  it('pins the base model and revision it is written for', () => {
    const s = serveScript({ baseModel: 'org/base', revision: 'abc123' });
    expect(s).toContain('BASE_MODEL = "org/base"');
    expect(s).toContain('REVISION = "abc123"');
    expect(serveScript({ baseModel: 'x', revision: null })).toContain('REVISION = None');
  });
});
