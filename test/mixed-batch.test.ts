// Mixed-adapter batches (engine/serve): every row of one batch, with its own soft prompt of its
// own length (prompt tuning, P-tuning's saved prompt_embeddings, none), gives the logits and
// the generated ids of that row run alone, on every fixture family and on both Node backends.
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAdapter, WEIGHTS_FILE } from '../src/engine/adapter/adapter.ts';
import { writeSafetensors } from '../src/engine/io/safetensors.ts';
import { generate, type GenerateOptions } from '../src/engine/generate.ts';
import { loadModel, type LoadedModel } from '../src/engine/load.ts';
import { promptForward, type Tuned } from '../src/engine/prompt/prompted.ts';
import { loadMethodAdapter } from '../src/engine/adapter/method-adapter.ts';
import { disposeInjection } from '../src/engine/methods/method.ts';
import { readMethodAdapterFolder } from '../src/node/adapter-folder.ts';
import { Rng } from '../src/engine/random.ts';
import { DecodeBatch, mixedGenerate, mixedLogits, type MixedGenerateRow } from '../src/engine/serve/mixed-batch.ts';
import { readAdapterFolder } from '../src/node/adapter-folder.ts';
import { initNodeBackend } from '../src/node/backend.ts';
import { FolderSource } from '../src/node/folder-source.ts';
import { fixtureModels, LOCAL_FIXTURES, maxAbsDiff, readCase, tensorTolerance } from './support/fixtures.ts';

/** A P_TUNING adapter's files as PEFT saves them: the encoder's output under "prompt_embeddings". */
function pTuningAdapter(V: number, H: number, seed: number) {
  const rng = new Rng(seed);
  const data = Float32Array.from({ length: V * H }, () => rng.normal() * 0.5);
  const config = {
    peft_type: 'P_TUNING',
    task_type: 'CAUSAL_LM',
    num_virtual_tokens: V,
    token_dim: H,
    encoder_reparameterization_type: 'MLP',
    encoder_hidden_size: 16,
    num_transformer_submodules: 1,
    inference_mode: true,
  };
  return readAdapter({ 'adapter_config.json': new TextEncoder().encode(JSON.stringify(config)), [WEIGHTS_FILE]: writeSafetensors({ prompt_embeddings: { shape: [V, H], data } }, { format: 'pt' }) });
}

const backends = ['wasm', 'cpu'];

describe.each(fixtureModels())('mixed-adapter batch on $name', ({ name, dir }) => {
  let lm: LoadedModel;
  let prompts: (tf.Tensor2D | null)[];
  let rows: number[][];

  beforeAll(async () => {
    await initNodeBackend();
    lm = await loadModel(new FolderSource(dir));
    const H = lm.model.config.hiddenSize;
    const trained = readAdapterFolder(readCase(dir, 'forward').adapterDir!);
    const pt = pTuningAdapter(5, H, 7);
    expect(pt.config.peftType).toBe('P_TUNING');
    const rng = new Rng(3);
    prompts = [
      tf.tensor2d(trained.promptEmbeddings, [trained.config.numVirtualTokens, H]),
      null,
      tf.tensor2d(pt.promptEmbeddings, [5, H]),
      tf.tensor2d(
        Float32Array.from({ length: 2 * H }, () => rng.normal()),
        [2, H],
      ),
    ];
    const base = readCase(dir, 'greedy').json.greedy.prompt_ids as number[];
    const vocab = Math.min(lm.tokenizer.vocabSize, lm.model.config.vocabSize);
    // Rows of different lengths, so both the prompt and the input pad differently per row.
    rows = [base, [...base, ...base].slice(0, base.length + 3), base.slice(0, 2), Array.from({ length: 7 }, (_, i) => (base[i % base.length] + i) % vocab)];
  });
  afterAll(() => {
    for (const p of prompts) p?.dispose();
    lm.dispose();
  });

  it.each(backends)('logits of each row equal the row alone (%s)', async (backend) => {
    await tf.setBackend(backend);
    const { logits, lengths } = mixedLogits(
      lm.model,
      rows.map((ids, b) => ({ prompt: prompts[b], inputIds: ids })),
    );
    const all = await logits.array();
    logits.dispose();
    for (let b = 0; b < rows.length; b++) {
      const alone = promptForward(lm.model, prompts[b], { inputIds: [rows[b]], attentionMask: [rows[b].map(() => 1)], labels: [rows[b].map(() => -100)] });
      const want = (await alone.logits.data()) as Float32Array;
      alone.logits.dispose();
      const got = Float32Array.from(all[b].slice(0, lengths[b]).flat());
      expect(lengths[b]).toBe((prompts[b]?.shape[0] ?? 0) + rows[b].length);
      expect(maxAbsDiff(got, want), `${name} row ${b}`).toBeLessThanOrEqual(tensorTolerance(want));
    }
  });

  it.each(backends)('generated ids of each row equal the row alone, greedy and sampled (%s)', async (backend) => {
    await tf.setBackend(backend);
    const options: GenerateOptions[] = [
      { maxNewTokens: 8, greedy: true },
      { maxNewTokens: 5, greedy: true },
      { maxNewTokens: 8, greedy: false, temperature: 0.8, topK: 20, seed: 11 },
      { maxNewTokens: 6, greedy: true, stopTokenIds: [lm.eosTokenId] },
    ];
    const batch: MixedGenerateRow[] = rows.map((ids, b) => ({ prompt: prompts[b], inputIds: ids, options: options[b] }));
    const before = tf.memory().numTensors;
    const mixed = await mixedGenerate(lm.model, batch);
    expect(tf.memory().numTensors).toBe(before);
    for (let b = 0; b < rows.length; b++) {
      const alone = await generate(lm.model, prompts[b], rows[b], options[b]);
      expect(mixed[b], `${name} row ${b}`).toEqual(alone);
    }
  });

  it.each(backends)('rows that join a running batch and leave it early get their ids alone (%s)', async (backend) => {
    await tf.setBackend(backend);
    const opts = (n: number): GenerateOptions => ({ maxNewTokens: n, greedy: true });
    const rowsOf = (b: number, n: number): MixedGenerateRow => ({ prompt: prompts[b], inputIds: rows[b], options: opts(n) });
    const first = [rowsOf(0, 9), rowsOf(1, 2)];
    const later = [rowsOf(2, 6), rowsOf(3, 4)];
    const before = tf.memory().numTensors;
    const batch = new DecodeBatch(lm.model);
    const got = new Map<MixedGenerateRow, number[]>();
    batch.add(first);
    for (let i = 0; i < 3; i++) for (const f of await batch.step()) got.set(f.row, f.ids);
    expect(got.get(first[1])).toHaveLength(2); // left after two steps
    batch.add(later);
    while (batch.size) for (const f of await batch.step()) got.set(f.row, f.ids);
    batch.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const all = [...first, ...later];
    for (const [i, r] of all.entries()) expect(got.get(r), `${name} row ${i}`).toEqual(await generate(lm.model, r.prompt, r.inputIds, r.options));
  });

  it("computes a soft prompt's keys and values once for its rows and frees them with the prompt", async () => {
    await tf.setBackend('wasm');
    const prompt = tf.clone(prompts[0]!) as tf.Tensor2D;
    const opts: GenerateOptions = { maxNewTokens: 3, greedy: true };
    const before = tf.memory().numTensors;
    const batch = new DecodeBatch(lm.model);
    const got: number[][] = [];
    for (const ids of [rows[0], rows[2]]) {
      batch.add([{ prompt, inputIds: ids, options: opts }]);
      while (batch.size) for (const f of await batch.step()) got.push(f.ids);
      // Kept between requests: keys and values per layer.
      expect(tf.memory().numTensors).toBe(before + 2 * lm.model.config.numLayers);
    }
    prompt.dispose();
    batch.add([{ prompt: prompts[1], inputIds: rows[1], options: opts }]);
    while (batch.size) await batch.step();
    expect(tf.memory().numTensors).toBe(before - 1);
    batch.dispose();
    expect(got[0]).toEqual(await generate(lm.model, prompts[0], rows[0], opts));
    expect(got[1]).toEqual(await generate(lm.model, prompts[0], rows[2], opts));
  });

  it('a stop test ends its row only', async () => {
    await tf.setBackend('wasm');
    const batch: MixedGenerateRow[] = rows.map((ids, b) => ({
      prompt: prompts[b],
      inputIds: ids,
      options: { maxNewTokens: 6, greedy: true },
      stopWhen: b === 1 ? (out) => out.length === 2 : undefined,
    }));
    const mixed = await mixedGenerate(lm.model, batch);
    expect(mixed.map((r) => r.length)).toEqual([6, 2, 6, 6]);
    expect(mixed[0]).toEqual(await generate(lm.model, prompts[0], rows[0], { maxNewTokens: 6, greedy: true }));
  });
});

describe('explicit positions', () => {
  it.each(fixtureModels().filter((m) => !m.name.includes('bloom')))('default positions equal past .. past + T - 1 ($name)', async ({ dir }) => {
    await initNodeBackend();
    const lm = await loadModel(new FolderSource(dir));
    const ids = [JSON.parse(readFileSync(path.join(dir, 'cases/greedy/case.json'), 'utf8')).greedy.prompt_ids as number[]];
    const T = ids[0].length;
    const mask = [ids[0].map(() => 1)];
    const run = (positions?: number[][]) => tf.tidy(() => lm.model.forward(lm.model.embed(ids), mask, { positions }).hidden);
    const a = run();
    const b = run([ids[0].map((_, t) => t)]);
    // RoPE is relative (a shift of every position changes nothing), so spread them out.
    const c = run([ids[0].map((_, t) => 2 * t)]);
    const [da, db, dc] = [await a.data(), await b.data(), await c.data()];
    expect(maxAbsDiff(da, db)).toBe(0);
    expect(maxAbsDiff(da, dc)).toBeGreaterThan(1e-4); // positions are really used
    expect(() => lm.model.forward(lm.model.embed(ids), mask, { positions: [[0]] })).toThrow(`positions must be [1][${T}]`);
    tf.dispose([a, b, c]);
    lm.dispose();
  });
});

describe('packed sequences', () => {
  it.each(fixtureModels())('two sequences in one row each get their own hidden states; bad tags are refused ($name)', async ({ dir }) => {
    await initNodeBackend();
    const lm = await loadModel(new FolderSource(dir));
    const ids = JSON.parse(readFileSync(path.join(dir, 'cases/greedy/case.json'), 'utf8')).greedy.prompt_ids as number[];
    const [a, b] = [ids, ids.slice(1).reverse()];
    const H = lm.model.config.hiddenSize;
    const alone = (x: number[]) => tf.tidy(() => lm.model.forward(lm.model.embed([x]), [x.map(() => 1)]).hidden);
    const query = [...a.map(() => 0), ...b.map(() => 1)];
    const positions = [[...a.map((_, t) => t), ...b.map((_, t) => t)]];
    const mask = [query.map(() => 1)];
    const packed = tf.tidy(() => lm.model.forward(lm.model.embed([[...a, ...b]]), mask, { positions, segments: { query, key: query } }).hidden);
    const got = (await packed.data()) as Float32Array;
    for (const [x, from] of [
      [a, 0],
      [b, a.length],
    ] as const) {
      const want = (await alone(x).data()) as Float32Array;
      expect(maxAbsDiff(got.subarray(from * H, (from + x.length) * H), want)).toBeLessThanOrEqual(tensorTolerance(want));
    }
    expect(() => lm.model.forward(lm.model.embed([[...a, ...b]]), mask, { positions, segments: { query: query.slice(1), key: query } })).toThrow('segments must tag');
    expect(() => lm.model.forward(lm.model.embed([[...a, ...b]]), mask, { segments: { query, key: query } })).toThrow('need a batch of one row and position ids');
    tf.dispose(packed);
    lm.dispose();
  });
});

// Every method in one batch: PEFT's own adapters (test/fixtures/methods) of prefix tuning, LoRA on
// the default targets and on all-linear, P-tuning, and no adapter, each row equal to running alone.
const METHOD_FIXTURES = path.join(LOCAL_FIXTURES, 'methods');
const METHOD_CASES = ['prefix', 'lora', 'ptuning-mlp', 'lora-all', 'prefix-proj'];
describe.each(readdirSync(METHOD_FIXTURES).filter((f) => existsSync(path.join(METHOD_FIXTURES, f, 'lora'))))('mixed-method batch on %s', (family) => {
  let lm: LoadedModel;
  let adapters: Tuned[];
  let rows: number[][];
  beforeAll(async () => {
    await initNodeBackend();
    await tf.setBackend('wasm');
    lm = await loadModel(new FolderSource(path.join(LOCAL_FIXTURES, 'families', family)));
    adapters = [...METHOD_CASES.map((c) => loadMethodAdapter(readMethodAdapterFolder(path.join(METHOD_FIXTURES, family, c, 'adapter')), lm.model)), null];
    const base = JSON.parse(readFileSync(path.join(METHOD_FIXTURES, family, 'lora', 'case.json'), 'utf8')).greedy.prompt_ids as number[];
    // Lengths differ per row, so prefixes, prompts and inputs all pad differently.
    rows = [base, base.slice(0, 3), [...base, ...base].slice(0, base.length + 2), base.slice(1), base.slice(0, 5), base.slice(2, 9)];
  });
  afterAll(() => {
    for (const a of adapters) if (a && !(a instanceof tf.Tensor)) disposeInjection(a);
    lm.dispose();
  });

  it('logits and greedy ids of each row equal the row alone', async () => {
    const { logits, lengths } = mixedLogits(
      lm.model,
      rows.map((ids, b) => ({ prompt: adapters[b], inputIds: ids })),
    );
    const all = await logits.array();
    logits.dispose();
    for (let b = 0; b < rows.length; b++) {
      const alone = promptForward(lm.model, adapters[b], { inputIds: [rows[b]], attentionMask: [rows[b].map(() => 1)], labels: [rows[b].map(() => -100)] });
      const want = (await alone.logits.data()) as Float32Array;
      alone.logits.dispose();
      expect(maxAbsDiff(Float32Array.from(all[b].slice(0, lengths[b]).flat()), want), `${family} row ${b} (${METHOD_CASES[b] ?? 'none'})`).toBeLessThanOrEqual(tensorTolerance(want));
    }
    const before = tf.memory().numTensors;
    const options: GenerateOptions = { maxNewTokens: 6, greedy: true };
    const mixed = await mixedGenerate(
      lm.model,
      rows.map((ids, b) => ({ prompt: adapters[b], inputIds: ids, options })),
    );
    expect(tf.memory().numTensors).toBe(before);
    for (let b = 0; b < rows.length; b++) expect(mixed[b], `${family} row ${b} (${METHOD_CASES[b] ?? 'none'})`).toEqual(await generate(lm.model, adapters[b], rows[b], options));
  });

  it('rows of different methods join a running batch and leave it early', async () => {
    const rowOf = (b: number, n: number): MixedGenerateRow => ({ prompt: adapters[b], inputIds: rows[b], options: { maxNewTokens: n, greedy: true } });
    const first = [rowOf(0, 7), rowOf(1, 2), rowOf(5, 4)];
    const later = [rowOf(2, 5), rowOf(3, 3), rowOf(4, 6)];
    const batch = new DecodeBatch(lm.model);
    const got = new Map<MixedGenerateRow, number[]>();
    batch.add(first);
    for (let i = 0; i < 3; i++) for (const f of await batch.step()) got.set(f.row, f.ids);
    batch.add(later);
    while (batch.size) for (const f of await batch.step()) got.set(f.row, f.ids);
    batch.dispose();
    for (const [i, r] of [...first, ...later].entries()) expect(got.get(r), `${family} row ${i}`).toEqual(await generate(lm.model, r.prompt, r.inputIds, r.options));
  });
});
