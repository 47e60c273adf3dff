// The engine files the playground added: async init, token preview, inspection, adapter zips,
// train_peft.py, and the URL folder source of the embedded models.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { zipSync } from 'fflate';
import { beforeAll, describe, expect, it } from 'vitest';
import { adapterFiles, makeAdapter, readAdapter } from '../src/engine/adapter/adapter.ts';
import { adapterFilesFromUploads, zipFolder } from '../src/engine/adapter/archive.ts';
import { AdapterError } from '../src/engine/adapter/peft-config.ts';
import type { MethodConfig } from '../src/engine/methods/index.ts';
import { trainScript, type TrainScriptOptions } from '../src/engine/adapter/train-script.ts';
import { encodeExample } from '../src/engine/data/encode.ts';
import { previewExample } from '../src/engine/data/preview.ts';
import { embeddingScale, inspectPrompt } from '../src/engine/inspect.ts';
import { UrlFolderSource } from '../src/engine/io/url-source.ts';
import { loadModel, type LoadedModel } from '../src/engine/load.ts';
import { initSoftPrompt } from '../src/engine/prompt/init.ts';
import { initNodeBackend } from '../src/node/backend.ts';
import { FolderSource } from '../src/node/folder-source.ts';
import { LOCAL_FIXTURES } from './support/fixtures.ts';

let lm: LoadedModel;

beforeAll(async () => {
  await initNodeBackend();
  lm = await loadModel(new FolderSource(path.join(LOCAL_FIXTURES, 'tiny-llama')));
});

describe('previewExample', () => {
  it('marks context tokens, loss tokens and the end token as encodeExample labels them', () => {
    const ex = { input: 'Tweet text : my parcel is late Label : ', target: 'complaint' };
    const p = previewExample(lm.tokenizer, ex, lm.eosTokenId, 512);
    const enc = encodeExample(lm.tokenizer, ex, lm.eosTokenId, 512);
    expect(p.tokens.map((t) => t.id)).toEqual(enc.inputIds);
    expect(p.tokens.map((t) => t.role !== 'input')).toEqual(enc.labels.map((l) => l !== -100));
    expect(p.tokens.at(-1)).toMatchObject({ id: lm.eosTokenId, role: 'eos' });
    expect(p.inputTokens + p.targetTokens).toBe(enc.inputIds.length);
    expect(p).toMatchObject({ truncated: false, dropped: 0 });
  });

  it('counts the input tokens truncation drops', () => {
    const ex = { input: 'Tweet text : ' + 'a very long complaint about a parcel '.repeat(8) + 'Label : ', target: 'complaint' };
    const full = previewExample(lm.tokenizer, ex, lm.eosTokenId, 10_000);
    const cut = previewExample(lm.tokenizer, ex, lm.eosTokenId, 24);
    expect(cut.truncated).toBe(true);
    expect(cut.tokens).toHaveLength(24);
    expect(cut.dropped).toBe(full.inputTokens - cut.inputTokens);
    expect(cut.tokens[0].id).toBe(lm.tokenizer.bosTokenId); // the leading BOS survives
  });
});

describe('inspectPrompt', () => {
  it('finds each TEXT-initialised row nearest to its own token, with no drift', async () => {
    const init = await initSoftPrompt(lm.model, lm.tokenizer, { kind: 'TEXT', text: 'the cat sat on the mat', numVirtualTokens: 6 });
    const r = await inspectPrompt(lm.model, lm.tokenizer, init.values, { values: init.values, ids: init.initIds }, 3);
    expect(r.tokens).toHaveLength(6);
    for (const t of r.tokens) {
      expect(t.nearest[0].id).toBe(t.initToken?.id);
      expect(t.nearest[0].cosine).toBeCloseTo(1, 5);
      expect(t.drift).toBe(0);
      expect(t.cosineToInit).toBeCloseTo(1, 5);
      expect(t.nearest.map((n) => n.cosine)).toEqual([...t.nearest.map((n) => n.cosine)].sort((a, b) => b - a));
    }
  });

  it('measures drift and norms of a moved prompt against the vocabulary scale', async () => {
    const H = lm.model.config.hiddenSize;
    const init = await initSoftPrompt(lm.model, lm.tokenizer, { kind: 'SAMPLE_VOCAB', numVirtualTokens: 2, seed: 3 });
    const moved = init.values.map((v, i) => (i < H ? v + 0.5 : v));
    const r = await inspectPrompt(lm.model, lm.tokenizer, moved, { values: init.values, ids: init.initIds }, 2);
    expect(r.tokens[0].drift).toBeCloseTo(0.5 * Math.sqrt(H), 4);
    expect(r.tokens[1].drift).toBe(0);
    const scale = await embeddingScale(lm.model, lm.tokenizer);
    expect(r.embedding).toEqual(scale);
    expect(scale.min).toBeLessThanOrEqual(scale.mean);
    expect(scale.max).toBeGreaterThanOrEqual(scale.mean);
  });
});

describe('chunked embedding tables', () => {
  it('give the same init rows, norms and nearest tokens as one table', async () => {
    const { setMaxBufferBytes } = await import('../src/engine/device-limits.ts');
    setMaxBufferBytes(2000); // tiny-llama's 512 x 32 table in ~33 chunks
    let chunked: LoadedModel;
    try {
      chunked = await loadModel(new FolderSource(path.join(LOCAL_FIXTURES, 'tiny-llama')));
    } finally {
      setMaxBufferBytes(null);
    }
    expect(chunked.model.embeddings.chunks.length).toBeGreaterThan(1);
    const init = { kind: 'SAMPLE_VOCAB' as const, numVirtualTokens: 6, seed: 5 };
    const a = await initSoftPrompt(lm.model, lm.tokenizer, init);
    const b = await initSoftPrompt(chunked.model, chunked.tokenizer, init);
    expect(Array.from(b.values)).toEqual(Array.from(a.values));
    const prompt = a.values.map((v, i) => v + Math.sin(i));
    const ra = await inspectPrompt(lm.model, lm.tokenizer, prompt, { values: a.values, ids: a.initIds }, 4);
    const rb = await inspectPrompt(chunked.model, chunked.tokenizer, prompt, { values: a.values, ids: a.initIds }, 4);
    expect(rb.tokens.map((t) => t.nearest.map((n) => n.id))).toEqual(ra.tokens.map((t) => t.nearest.map((n) => n.id)));
    expect(rb.embedding.mean).toBeCloseTo(ra.embedding.mean, 6);
    chunked.dispose();
  });
});

describe('adapter archives', () => {
  const values = () => new Float32Array(64).map((_, i) => i / 7);
  const testAdapter = () => makeAdapter(values(), lm.model.config, { kind: 'hub', id: 'org/model', revision: 'main', commit: 'a'.repeat(40) }, { kind: 'TEXT', text: 'hi' });

  it('round-trips a zipped PEFT folder through the import path', () => {
    const files = adapterFiles(testAdapter());
    const zip = zipFolder('my-adapter', files);
    const back = readAdapter(adapterFilesFromUploads([{ name: 'my-adapter.zip', bytes: zip }]));
    expect(Array.from(back.promptEmbeddings)).toEqual(Array.from(values()));
    expect(back.config).toMatchObject({ numVirtualTokens: 2, tokenDim: 32, baseModel: 'org/model', revision: 'a'.repeat(40), init: 'TEXT', initText: 'hi' });
  });

  it('takes loose files, zips with the files at the root, and skips macOS metadata', () => {
    const files = adapterFiles(testAdapter());
    expect(Object.keys(adapterFilesFromUploads(Object.entries(files).map(([name, bytes]) => ({ name, bytes }))))).toEqual(Object.keys(files));
    const rootZip = zipSync({ ...files, '__MACOSX/._adapter_config.json': new Uint8Array([1]) });
    expect(readAdapter(adapterFilesFromUploads([{ name: 'x.zip', bytes: rootZip }])).config.numVirtualTokens).toBe(2);
  });

  it('names the file in every error', () => {
    expect(() => adapterFilesFromUploads([{ name: 'broken.zip', bytes: new TextEncoder().encode('PK\u0003\u0004 nope') }])).toThrow(/broken\.zip: not a readable zip archive/);
    expect(() => adapterFilesFromUploads([{ name: 'empty.zip', bytes: zipSync({}) }])).toThrow(/empty\.zip: the zip archive is empty/);
    const files = adapterFiles(testAdapter());
    const two = zipSync({ 'a/adapter_config.json': files['adapter_config.json'], 'b/adapter_config.json': files['adapter_config.json'] });
    expect(() => adapterFilesFromUploads([{ name: 'two.zip', bytes: two }])).toThrow(AdapterError);
    expect(() => adapterFilesFromUploads([])).toThrow(/no files/);
  });
});

describe('train_peft.py', () => {
  const options: TrainScriptOptions = {
    baseModel: 'HuggingFaceTB/SmolLM2-135M',
    revision: 'b'.repeat(40),
    datasetFile: 'dataset.jsonl',
    testFile: 'dataset.test.jsonl',
    template: 'Tweet text : {text} Label : ',
    inputColumn: 'text',
    targetColumn: 'label',
    taskKind: 'label',
    method: { method: 'prompt', init: 'TEXT', initText: 'Classify if the tweet is a "complaint" or not:', numVirtualTokens: 8 },
    lr: 0.03,
    epochs: 3,
    batchSize: 8,
    maxLength: 64,
    warmupSteps: 0,
    weightDecay: 0.01,
    valSplit: 0.1,
    patience: 2,
    evalEvery: 7,
    maxSteps: 30,
    seed: 42,
    splitFile: 'split.json',
  };

  it('carries the run configuration as literals and defaults', () => {
    const py = trainScript(options);
    expect(py).toContain('BASE_MODEL = "HuggingFaceTB/SmolLM2-135M"');
    expect(py).toContain(`REVISION = "${'b'.repeat(40)}"`);
    expect(py).toContain('prompt_tuning_init_text="Classify if the tweet is a \\"complaint\\" or not:"');
    expect(py).toContain('TEMPLATE = "Tweet text : {text} Label : "');
    expect(py).toContain('num_virtual_tokens=8');
    expect(py).toContain('p.add_argument("--lr", type=float, default=0.03)');
    expect(py).toContain('p.add_argument("--max-length", type=int, default=64');
    expect(py).toContain('accelerate launch train_peft.py');
    // The run's own rows, cadence, patience unit and step limit.
    expect(py).toContain('SPLIT = os.path.join(HERE, "split.json")');
    expect(py).toContain('p.add_argument("--eval-every", type=int, default=7');
    expect(py).toContain('p.add_argument("--max-steps", type=int, default=30');
    expect(py).toContain('p.add_argument("--patience", type=int, default=2, help="stop after N evaluations');
    expect(trainScript({ ...options, maxSteps: null, splitFile: null })).toContain('SPLIT = None');
    expect(trainScript({ ...options, revision: null, testFile: null })).toContain('REVISION = None');
  });

  // Skipped (and reported as skipped, not passed) where no Python is installed, as in CI.
  const python = ['python3', 'python'].find((p) => {
    try {
      execFileSync(p, ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  });
  it.skipIf(!python)('is valid Python', () => {
    const code = `import ast, sys; ast.parse(sys.stdin.read())`;
    expect(() => execFileSync(python as string, ['-c', code], { input: trainScript(options) })).not.toThrow();
    // Every method's script, with and without a way to continue from an adapter folder.
    const methods: MethodConfig[] = [
      { method: 'prefix', numVirtualTokens: 8, prefixProjection: true, encoderHiddenSize: 64, initWeights: null },
      { method: 'prefix', numVirtualTokens: 8, prefixProjection: false, encoderHiddenSize: null, initWeights: null },
      { method: 'p_tuning', numVirtualTokens: 8, encoderType: 'LSTM', encoderHiddenSize: 32, encoderNumLayers: 2, encoderDropout: 0.1 },
      { method: 'lora', r: 8, alpha: 16, dropout: 0.05, targetModules: ['q_proj', 'v_proj'], useRslora: true },
      { method: 'lora', r: 4, alpha: 8, dropout: 0, targetModules: 'all-linear', useRslora: false },
    ];
    for (const method of methods) {
      expect(() => execFileSync(python as string, ['-c', code], { input: trainScript({ ...options, method }) }), method.method).not.toThrow();
    }
    // A broken script must fail the same check (so this test can fail at all).
    expect(() => execFileSync(python as string, ['-c', code], { input: trainScript(options) + '\n  def (', stdio: 'pipe' })).toThrow();
  });
});

describe('UrlFolderSource', () => {
  it('reads files over HTTP with progress, and treats 404 and HTML fallbacks as missing', async () => {
    const dir = path.join(LOCAL_FIXTURES, 'tiny-llama');
    const server = createServer((req, res) => {
      const name = (req.url ?? '').split('/').pop() as string;
      if (req.url?.startsWith('/spa/')) return void res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html>');
      try {
        const body = readFileSync(path.join(dir, name));
        res.writeHead(200, { 'Content-Length': body.byteLength, 'Content-Type': 'application/octet-stream' }).end(body);
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const source = new UrlFolderSource('tiny-llama', `${base}/models/tiny-llama/`);
      const progress: number[] = [];
      const bytes = await source.tryRead('model.safetensors', (p) => progress.push(p.loaded));
      expect(bytes?.byteLength).toBe(readFileSync(path.join(dir, 'model.safetensors')).byteLength);
      expect(progress.at(-1)).toBe(bytes?.byteLength);
      expect(await source.tryRead('missing.json')).toBeNull();
      expect(await new UrlFolderSource('x', `${base}/spa/`).tryRead('config.json')).toBeNull();
      const loaded = await loadModel(source);
      expect(loaded.origin).toEqual({ kind: 'folder', id: 'tiny-llama', revision: null, commit: null });
      loaded.dispose();
    } finally {
      server.close();
    }
  });
});
