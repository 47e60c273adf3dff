// `cli serve` end to end: the server runs as its own process on a free loopback port (port 0),
// is asked over HTTP like an OpenAI client would, and is stopped with SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adapterFiles, makeAdapter } from '../src/engine/adapter/adapter.ts';
import { writeSafetensors } from '../src/engine/io/safetensors.ts';
import { generate } from '../src/engine/generate.ts';
import { loadModel, type LoadedModel, type ModelOrigin } from '../src/engine/load.ts';
import { Tuning, type MethodConfig } from '../src/engine/methods/index.ts';
import { disposeInjection, type Injection } from '../src/engine/methods/method.ts';
import { methodAdapterFiles } from '../src/engine/adapter/method-adapter.ts';
import { Rng } from '../src/engine/random.ts';
import { writeFolder } from '../src/node/adapter-folder.ts';
import { initNodeBackend } from '../src/node/backend.ts';
import { FolderSource } from '../src/node/folder-source.ts';
import { startHubServer, type HubServer } from './support/hub-server.ts';
import { LOCAL_FIXTURES, REPO_ROOT } from './support/fixtures.ts';

const LLAMA = path.join(LOCAL_FIXTURES, 'tiny-llama');

interface Server {
  url: string;
  proc: ChildProcess;
  first: Record<string, any>;
  lines: Record<string, any>[];
  exited: Promise<number | null>;
}

/** Starts `cli serve` and resolves with the address it prints. */
function startServe(args: string[], env: Record<string, string> = {}): Promise<Server> {
  const proc = spawn(process.execPath, ['--no-warnings', '--import', 'tsx', '--import', './src/node/register-hooks.mjs', 'src/cli/main.ts', 'serve', '--port', '0', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (c) => (stderr += c));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const lines: Record<string, any>[] = [];
  return new Promise((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const json = JSON.parse(line);
      lines.push(json);
      if (lines.length !== 1) return;
      if (json.listening) resolve({ url: json.listening, proc, first: json, lines, exited });
      else reject(new Error(`serve did not start: ${line} ${stderr}`));
    });
    exited.then((code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
}

async function post(url: string, body: unknown): Promise<{ status: number; json: any }> {
  const r = await fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: r.status, json: await r.json() };
}

async function stop(s: Server): Promise<number | null> {
  s.proc.kill('SIGTERM');
  return s.exited;
}

/** An adapter folder with a random soft prompt of V tokens. */
function writeAdapter(dir: string, V: number, seed: number, origin: ModelOrigin = { kind: 'folder', id: 'tiny-llama', revision: null, commit: null }, H = 32) {
  const rng = new Rng(seed);
  const values = Float32Array.from({ length: V * H }, () => rng.normal() * 0.3);
  const config = { hiddenSize: H, numLayers: 2, numHeads: 4 } as Parameters<typeof makeAdapter>[1];
  writeFolder(dir, adapterFiles(makeAdapter(values, config, origin, { kind: 'RANDOM' })));
  return values;
}

let lm: LoadedModel;
let adaptersDir: string;
const prompts: Record<string, Float32Array> = {};
let server: Server;

/** What the engine generates for one row alone (greedy), as text. */
async function alone(adapter: string | null, text: string, maxNew: number): Promise<string> {
  const p = adapter ? tf.tensor2d(prompts[adapter], [prompts[adapter].length / 32, 32]) : null;
  const ids = await generate(lm.model, p, lm.tokenizer.encode(text), { maxNewTokens: maxNew, greedy: true, stopTokenIds: [lm.eosTokenId] });
  p?.dispose();
  return lm.tokenizer.decode(ids);
}

beforeAll(async () => {
  await initNodeBackend();
  lm = await loadModel(new FolderSource(LLAMA));
  adaptersDir = mkdtempSync(path.join(os.tmpdir(), 'serve-adapters-'));
  prompts.alpha = writeAdapter(path.join(adaptersDir, 'alpha'), 3, 1);
  prompts.beta = writeAdapter(path.join(adaptersDir, 'beta'), 8, 2);
  prompts.gamma = writeAdapter(path.join(adaptersDir, 'gamma'), 1, 3);
  // Trained for a model of another width: refused, with the reason.
  writeFolder(path.join(adaptersDir, 'wide'), {
    'adapter_config.json': new TextEncoder().encode(JSON.stringify({ peft_type: 'PROMPT_TUNING', task_type: 'CAUSAL_LM', num_virtual_tokens: 2, token_dim: 48 })),
    'adapter_model.safetensors': writeSafetensors({ prompt_embeddings: { shape: [2, 48], data: new Float32Array(96) } }, { format: 'pt' }),
  });
  mkdirSync(path.join(adaptersDir, 'not-an-adapter'));
  server = await startServe(['--model', LLAMA, '--adapters', adaptersDir, '--batch-window-ms', '150', '--max-queue', '6']);
});
afterAll(async () => {
  if (server.proc.exitCode === null) await stop(server);
  lm.dispose();
});

describe('cli serve', () => {
  it('lists the base model and the adapters, with refused ones and why', async () => {
    expect(server.first.adapters).toEqual(['alpha', 'beta', 'gamma']);
    const r = await (await fetch(`${server.url}/v1/models`)).json();
    expect(r.object).toBe('list');
    expect(r.data.map((m: any) => m.id)).toEqual(['tiny-llama', 'alpha', 'beta', 'gamma']);
    expect(r.data[2]).toMatchObject({ object: 'model', method: 'PROMPT_TUNING', base_model: 'tiny-llama', revision: null, num_virtual_tokens: 8 });
    expect(r.refused).toEqual([{ id: 'wide', reason: expect.stringContaining('"prompt_embeddings" is [2,48] but the loaded model needs [2,32]') }]);
  });

  it('answers in OpenAI completion format with what the engine generates alone', async () => {
    const r = await post(server.url, { model: 'beta', prompt: ['Hello world', 'The'], max_tokens: 6, temperature: 0 });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ object: 'text_completion', model: 'beta', usage: { prompt_tokens: lm.tokenizer.encode('Hello world').length + lm.tokenizer.encode('The').length } });
    expect(r.json.id).toMatch(/^cmpl-/);
    expect(r.json.choices.map((c: any) => c.text)).toEqual([await alone('beta', 'Hello world', 6), await alone('beta', 'The', 6)]);
    expect(r.json.choices.map((c: any) => c.index)).toEqual([0, 1]);
    const base = await post(server.url, { model: 'tiny-llama', prompt: 'Hello world', max_tokens: 5, temperature: 0 });
    expect(base.json.choices[0].text).toBe(await alone(null, 'Hello world', 5));
  });

  it('batches concurrent requests for different adapters into shared forward passes', async () => {
    const before = await (await fetch(`${server.url}/v1/stats`)).json();
    const asks: [string, string][] = [
      ['alpha', 'Hello'],
      ['beta', 'Hello world'],
      ['gamma', 'The'],
      ['tiny-llama', 'world'],
    ];
    const answers = await Promise.all(asks.map(([model, prompt]) => post(server.url, { model, prompt, max_tokens: 7, temperature: 0 })));
    const after = await (await fetch(`${server.url}/v1/stats`)).json();
    // 4 rows of 7 tokens, 8 steps each (the first feeds the row's prompt in the pass that feeds
    // the others' tokens, the last picks its seventh token): 32 row-steps, in far fewer than 32 shared steps.
    expect(after.row_steps - before.row_steps).toBe(32);
    expect(after.steps - before.steps).toBeLessThan(16);
    expect(after.max_rows).toBeGreaterThanOrEqual(3);
    for (let i = 0; i < asks.length; i++) expect(answers[i].json.choices[0].text).toBe(await alone(asks[i][0] === 'tiny-llama' ? null : asks[i][0], asks[i][1], 7));
  });

  it('cuts at a stop string and says why it stopped', async () => {
    const full = await alone('alpha', 'Hello', 12);
    const r = await post(server.url, { model: 'alpha', prompt: 'Hello', max_tokens: 12, temperature: 0 });
    expect(r.json.choices[0].text).toBe(full);
    const stopAt = full.trim().slice(0, 2);
    const cut = await post(server.url, { model: 'alpha', prompt: 'Hello', max_tokens: 12, temperature: 0, stop: [stopAt] });
    expect(cut.json.choices[0]).toMatchObject({ text: full.slice(0, full.indexOf(stopAt)), finish_reason: 'stop' });
  });

  it('answers bad requests with a status and a message, and keeps serving', async () => {
    const cases: [unknown, number, string][] = [
      ['{not json', 400, 'not valid JSON'],
      [[1, 2], 400, 'must be a JSON object'],
      [{ prompt: 'x' }, 400, '"model" is required'],
      [{ model: 'alpha' }, 400, '"prompt" must be'],
      [{ model: 'alpha', prompt: 'x', max_tokens: -1 }, 400, '"max_tokens" must be'],
      [{ model: 'alpha', prompt: 'x', temperature: 'hot' }, 400, '"temperature" must be'],
      [{ model: 'alpha', prompt: 'x', stream: true }, 400, 'not supported'],
      [{ model: 'alpha', prompt: [[999999]] }, 400, 'token id 999999'],
      [{ model: 'nobody', prompt: 'x' }, 404, 'model "nobody" not found'],
      [{ model: 'wide', prompt: 'x' }, 400, 'adapter "wide" cannot be served'],
      [{ model: 'alpha', prompt: ['a', 'b', 'c', 'd', 'e', 'f', 'g'] }, 400, '"prompt" has 7 prompts; this server queues at most 6 rows'],
    ];
    for (const [body, status, message] of cases) {
      const r = await post(server.url, body);
      expect(r.status, JSON.stringify(body)).toBe(status);
      expect(r.json.error.message).toContain(message);
    }
    expect((await fetch(`${server.url}/v2/nothing`)).status).toBe(404);
    expect((await post(server.url, { model: 'alpha', prompt: 'Hello', max_tokens: 2 })).status).toBe(200);
  });

  it('answers 429 while the queue is full, and serves what it queued', async () => {
    // A long batching window holds the first request's 6 rows in the queue (its limit) until the second has been answered.
    const s = await startServe(['--model', LLAMA, '--adapters', adaptersDir, '--batch-window-ms', '60000', '--max-queue', '6']);
    try {
      const first = post(s.url, { model: 'alpha', prompt: ['a', 'b', 'c', 'd', 'e', 'f'], max_tokens: 2 });
      while ((await (await fetch(`${s.url}/v1/stats`)).json()).queued < 6) await new Promise((r) => setTimeout(r, 10));
      const second = await post(s.url, { model: 'beta', prompt: 'x', max_tokens: 2 });
      expect(second.status).toBe(429);
      expect(second.json.error).toMatchObject({ type: 'rate_limit_error', code: 429 });
      expect(second.json.error.message).toContain('server is busy: 6 rows are queued (limit 6)');
      // SIGTERM drains the queue without waiting out the window (a minute).
      const killed = performance.now();
      s.proc.kill('SIGTERM');
      const r = await first;
      expect(performance.now() - killed).toBeLessThan(30_000);
      expect(r.status).toBe(200);
      expect(r.json.choices).toHaveLength(6);
    } finally {
      s.proc.kill('SIGKILL');
      await s.exited;
    }
  });

  it('picks up an adapter dropped into the folder without a restart', async () => {
    expect((await post(server.url, { model: 'delta', prompt: 'Hello' })).status).toBe(404);
    const staging = mkdtempSync(path.join(os.tmpdir(), 'delta-'));
    prompts.delta = writeAdapter(staging, 4, 9);
    cpSync(staging, path.join(adaptersDir, 'delta'), { recursive: true });
    const r = await post(server.url, { model: 'delta', prompt: 'Hello', max_tokens: 5, temperature: 0 });
    expect(r.status).toBe(200);
    expect(r.json.choices[0].text).toBe(await alone('delta', 'Hello', 5));
    // Replaced in place: the new prompt is served.
    prompts.delta = writeAdapter(path.join(adaptersDir, 'delta'), 6, 10);
    const again = await post(server.url, { model: 'delta', prompt: 'Hello', max_tokens: 5, temperature: 0 });
    expect(again.json.choices[0].text).toBe(await alone('delta', 'Hello', 5));
    const models = await (await fetch(`${server.url}/v1/models`)).json();
    expect(models.data.find((m: any) => m.id === 'delta').num_virtual_tokens).toBe(6);
  });

  it('serves LoRA and prefix adapters mixed with soft prompts in one batch, each as alone', async () => {
    // Random trained-looking values (LoRA's B included), written as PEFT folders and dropped in.
    const made: Record<string, MethodConfig> = {
      lora: { method: 'lora', r: 4, alpha: 8, dropout: 0, targetModules: 'all-linear', useRslora: false },
      prefix: { method: 'prefix', numVirtualTokens: 3, prefixProjection: false, encoderHiddenSize: null, initWeights: null },
    };
    const tuned: Record<string, Injection> = {};
    for (const [name, config] of Object.entries(made)) {
      const tuning = new Tuning(lm.model, config);
      const rng = new Rng(21);
      const values = Float32Array.from({ length: tuning.size }, () => rng.normal() * 0.2);
      writeFolder(path.join(adaptersDir, name), methodAdapterFiles(tuning, values, { baseModel: 'tiny-llama', revision: null }));
      tuned[name] = tuning.injectValues(values);
    }
    const models = await (await fetch(`${server.url}/v1/models`)).json();
    expect(models.data.find((m: any) => m.id === 'lora')).toMatchObject({ method: 'LORA', r: 4, num_virtual_tokens: 0 });
    expect(models.data.find((m: any) => m.id === 'prefix')).toMatchObject({ method: 'PREFIX_TUNING', num_virtual_tokens: 3 });
    const asks = ['lora', 'prefix', 'alpha', 'lora', 'tiny-llama', 'prefix'].map((model, i) => ({ model, prompt: ['Hello', 'The cat', 'Once upon', 'A'][i % 4], max_tokens: 6, temperature: 0 }));
    const answers = await Promise.all(asks.map((a) => post(server.url, a)));
    for (const [i, a] of asks.entries()) {
      expect(answers[i].status, JSON.stringify(answers[i].json)).toBe(200);
      const ids = await generate(lm.model, a.model in tuned ? tuned[a.model] : a.model === 'alpha' ? tf.tensor2d(prompts.alpha, [3, 32]) : null, lm.tokenizer.encode(a.prompt), {
        maxNewTokens: 6,
        greedy: true,
        stopTokenIds: [lm.eosTokenId],
      });
      expect(answers[i].json.choices[0].text, `${a.model}: ${a.prompt}`).toBe(lm.tokenizer.decode(ids));
    }
    for (const t of Object.values(tuned)) disposeInjection(t);
    for (const name of Object.keys(made)) rmSync(path.join(adaptersDir, name), { recursive: true });
  });

  it('drains the requests in flight on SIGTERM, then exits', async () => {
    const s = await startServe(['--model', LLAMA, '--adapters', adaptersDir]);
    const pending = post(s.url, { model: 'beta', prompt: 'Hello', max_tokens: 200, temperature: 0 });
    await new Promise((r) => setTimeout(r, 100));
    s.proc.kill('SIGTERM');
    const r = await pending;
    expect(r.status).toBe(200);
    expect(r.json.choices[0].text).toBe(await alone('beta', 'Hello', 200));
    expect(await s.exited).toBe(0);
    expect(s.lines.at(-1)).toEqual({ stopped: 'SIGTERM' });
  });
});

describe('cli serve and base model revisions', () => {
  let hub: HubServer;
  beforeAll(async () => {
    hub = await startHubServer([{ id: 'test-org/tiny-llama', dir: LLAMA }]);
  });
  afterAll(() => hub.close());

  it('refuses an adapter trained on another revision unless --allow-drift', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'serve-drift-'));
    const commit = hub.commitOf('test-org/tiny-llama');
    const at = (revision: string) => ({ kind: 'hub' as const, id: 'test-org/tiny-llama', revision, commit: revision });
    writeAdapter(path.join(dir, 'same'), 2, 1, at(commit));
    writeAdapter(path.join(dir, 'old'), 2, 2, at('0123456789abcdef0123456789abcdef01234567'));
    const env = { HF_ENDPOINT: hub.url };
    const strict = await startServe(['--model', 'test-org/tiny-llama', '--adapters', dir], env);
    expect(strict.first).toMatchObject({ revision: commit, adapters: ['same'] });
    const refused = await post(strict.url, { model: 'old', prompt: 'Hello' });
    expect(refused.status).toBe(400);
    expect(refused.json.error.message).toContain(`trained on base revision 0123456789abcdef0123456789abcdef01234567, the loaded model is at ${commit}`);
    expect(refused.json.error.message).toContain('--allow-drift');
    expect((await post(strict.url, { model: 'same', prompt: 'Hello', max_tokens: 2 })).status).toBe(200);
    expect(await stop(strict)).toBe(0);
    const lenient = await startServe(['--model', 'test-org/tiny-llama', '--adapters', dir, '--allow-drift'], env);
    expect(lenient.first.adapters).toEqual(['old', 'same']);
    expect((await post(lenient.url, { model: 'old', prompt: 'Hello', max_tokens: 2 })).status).toBe(200);
    expect(await stop(lenient)).toBe(0);
  });
});
