// The serving load test: `cli serve` on the demo model with 8 soft-prompt adapters, driven over
// loopback by closed-loop clients. Requests/s and p50/p95 latency with the 8 adapters mixed in
// shared batches, against the same requests served one adapter at a time (--batching
// per-adapter), and the latency at 4 concurrent clients against the same requests sent one at a
// time; and the same requests decoded by the engine alone at 1 and 8 rows: what batching itself
// gains here. Bounded in requests and in time; the servers are stopped at the end. Writes docs/serve-load.md and .json.
//   node --import tsx --import ./src/node/register-hooks.mjs bench/serve-load.ts [--requests N] [--rounds N] [--max-tokens N] [--out FILE]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { adapterFiles, makeAdapter } from '../src/engine/adapter/adapter.ts';
import { loadModel, type LoadedModel } from '../src/engine/load.ts';
import { decodeRow } from '../src/engine/serve/completions.ts';
import { DecodeBatch } from '../src/engine/serve/mixed-batch.ts';
import { initSoftPrompt } from '../src/engine/prompt/init.ts';
import { writeFolder } from '../src/node/adapter-folder.ts';
import { initNodeBackend } from '../src/node/backend.ts';
import { FolderSource } from '../src/node/folder-source.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? fallback : args[i + 1];
};
const MODEL = path.join(root, flag('model', 'public/models/playground-demo'));
const REQUESTS = Number(flag('requests', '32'));
const ROUNDS = Number(flag('rounds', '3'));
const MAX_TOKENS = Number(flag('max-tokens', '16'));
/** No scenario runs longer than this; what finished by then is reported, marked as cut short. */
const SCENARIO_LIMIT_MS = Number(flag('scenario-limit-s', '60')) * 1000;
const ADAPTERS = 8;
const out = flag('out', path.join(root, 'docs/serve-load.md'));

export interface Scenario {
  name: string;
  batching: 'mixed' | 'per-adapter';
  clients: number;
  requests: number;
  completed: number;
  seconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p95Ms: number;
  /** Tokens generated per request: the demo model often ends a completion early (its EOS), so requests differ in cost. */
  meanCompletionTokens: number;
  meanBatch: number;
  /** Requests per CPU-second of the server process: what the batching saves, whatever else runs on the machine. */
  requestsPerCpuSecond: number;
  cutShort: boolean;
}

/**
 * The same requests decoded by the engine alone (DecodeBatch, no HTTP, no JSON, no scheduler),
 * keeping `rows` of them in the batch: its 8-row against its 1-row cost per request is what
 * batching can gain at all, whatever the server around it does.
 */
export interface EngineRow {
  rows: number;
  msPerRequest: number;
  msPerStep: number;
  meanRows: number;
}

async function decodeAlone(lm: LoadedModel, prompts: tf.Tensor2D[], texts: string[], rows: number): Promise<EngineRow> {
  const batch = new DecodeBatch(lm.model);
  const all = Array.from({ length: REQUESTS }, (_, i) =>
    decodeRow(
      { prompt: prompts[i % ADAPTERS], inputIds: lm.tokenizer.encode(texts[i % texts.length]), maxTokens: MAX_TOKENS, temperature: 0, topP: 1, stop: [], seed: i },
      lm.tokenizer,
      lm.eosTokenId,
    ),
  );
  let next = Math.min(rows, all.length);
  let steps = 0;
  let rowSteps = 0;
  const start = performance.now();
  try {
    batch.add(all.slice(0, next));
    while (batch.size) {
      rowSteps += batch.size;
      steps++;
      const done = await batch.step();
      const add = Math.min(done.length, all.length - next);
      batch.add(all.slice(next, next + add));
      next += add;
    }
  } finally {
    batch.dispose();
  }
  const ms = performance.now() - start;
  return { rows, msPerRequest: ms / all.length, msPerStep: ms / steps, meanRows: rowSteps / steps };
}

/** The matrix products of one 8-row pass over the requests (tf.profile): MFLOP per request and their rate. */
async function productsAlone(lm: LoadedModel, prompts: tf.Tensor2D[], texts: string[]): Promise<{ mflopPerRequest: number; msPerRequest: number; gflops: number }> {
  const info = await tf.profile(async () => {
    await decodeAlone(lm, prompts, texts, ADAPTERS);
  });
  let flop = 0;
  let ms = 0;
  for (const k of info.kernels) {
    if (k.name !== 'BatchMatMul') continue;
    // out [..., M, N]; a's last two dims hold M·K whether or not it is transposed.
    const a = k.inputShapes[0] as number[];
    const out = k.outputShapes[0] as number[];
    const M = out[out.length - 2];
    const K = (a[a.length - 1] * a[a.length - 2]) / M;
    flop += 2 * K * out.reduce((x, d) => x * d, 1);
    ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
  }
  return { mflopPerRequest: flop / REQUESTS / 1e6, msPerRequest: ms / REQUESTS, gflops: flop / ms / 1e6 };
}

async function prepare(dir: string, texts: string[]): Promise<{ names: string[]; engine: EngineRow[]; products: Awaited<ReturnType<typeof productsAlone>> }> {
  await initNodeBackend();
  const lm = await loadModel(new FolderSource(MODEL));
  const names: string[] = [];
  const prompts: tf.Tensor2D[] = [];
  for (let i = 0; i < ADAPTERS; i++) {
    // Soft prompts of different lengths, as tenants' adapters would be.
    const V = 4 + 2 * i;
    const p = await initSoftPrompt(lm.model, lm.tokenizer, { kind: 'SAMPLE_VOCAB', numVirtualTokens: V, seed: 100 + i });
    const name = `tenant-${i}`;
    writeFolder(path.join(dir, name), adapterFiles(makeAdapter(p.values, lm.model.config, lm.origin, { kind: 'SAMPLE_VOCAB' })));
    names.push(name);
    prompts.push(tf.tensor2d(p.values, [V, lm.model.config.hiddenSize]));
  }
  try {
    // Warmed up, then 1 and 8 rows take turns for the rounds; each reports its median round.
    await decodeAlone(lm, prompts, texts, ADAPTERS);
    const rounds: EngineRow[][] = [[], []];
    for (let round = 0; round < ROUNDS; round++) for (const [i, rows] of [1, ADAPTERS].entries()) rounds[i].push(await decodeAlone(lm, prompts, texts, rows));
    const engine = rounds.map((rs) => [...rs].sort((a, b) => a.msPerRequest - b.msPerRequest)[rs.length >> 1]);
    return { names, engine, products: await productsAlone(lm, prompts, texts) };
  } finally {
    tf.dispose(prompts);
    lm.dispose();
  }
}

interface Server {
  url: string;
  proc: ChildProcess;
  exited: Promise<number | null>;
}

function startServer(adapters: string, batching: string): Promise<Server> {
  const proc = spawn(
    process.execPath,
    [
      '--no-warnings',
      '--import',
      'tsx',
      '--import',
      './src/node/register-hooks.mjs',
      'src/cli/main.ts',
      'serve',
      '--model',
      MODEL,
      '--adapters',
      adapters,
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--batching',
      batching,
      '--max-batch',
      String(ADAPTERS),
      '--max-queue',
      '256',
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<number | null>((resolve) => proc.on('exit', resolve));
  return new Promise((resolve, reject) => {
    createInterface({ input: proc.stdout! }).once('line', (line) => {
      const j = JSON.parse(line);
      if (j.listening) resolve({ url: j.listening, proc, exited });
      else reject(new Error(`serve did not start: ${line}`));
    });
    exited.then((code) => reject(new Error(`serve exited with ${code}`)));
  });
}

const percentile = (sorted: number[], q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] : NaN);

/** `clients` closed-loop clients share the request list; request i asks adapter i mod 8. */
async function drive(server: Server, name: string, batching: 'mixed' | 'per-adapter', clients: number, requests: { model: string; prompt: string }[]): Promise<Scenario> {
  const before = await (await fetch(`${server.url}/v1/stats`)).json();
  const latencies: number[] = [];
  let completionTokens = 0;
  let next = 0;
  const start = performance.now();
  const deadline = start + SCENARIO_LIMIT_MS;
  const client = async () => {
    while (next < requests.length && performance.now() < deadline) {
      const r = requests[next++];
      const t0 = performance.now();
      const res = await fetch(`${server.url}/v1/completions`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ ...r, max_tokens: MAX_TOKENS, temperature: 0 }),
      });
      const body = await res.json();
      if (res.status !== 200) throw new Error(`${name}: HTTP ${res.status} ${JSON.stringify(body)}`);
      latencies.push(performance.now() - t0);
      completionTokens += body.usage.completion_tokens;
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  const seconds = (performance.now() - start) / 1000;
  const after = await (await fetch(`${server.url}/v1/stats`)).json();
  const sorted = [...latencies].sort((a, b) => a - b);
  const row: Scenario = {
    name,
    batching,
    clients,
    requests: requests.length,
    completed: latencies.length,
    seconds,
    requestsPerSecond: latencies.length / seconds,
    p50Ms: percentile(sorted, 0.5),
    p95Ms: percentile(sorted, 0.95),
    meanCompletionTokens: completionTokens / Math.max(1, latencies.length),
    meanBatch: (after.row_steps - before.row_steps) / Math.max(1, after.steps - before.steps),
    requestsPerCpuSecond: latencies.length / Math.max(1e-6, after.cpu_seconds - before.cpu_seconds),
    cutShort: latencies.length < requests.length,
  };
  process.stderr.write(
    `${name}: ${row.requestsPerSecond.toFixed(2)} req/s, p50 ${row.p50Ms.toFixed(0)} ms, p95 ${row.p95Ms.toFixed(0)} ms, mean batch ${row.meanBatch.toFixed(2)}, ${row.requestsPerCpuSecond.toFixed(2)} req per server CPU-s\n`,
  );
  return row;
}

async function stop(s: Server): Promise<void> {
  s.proc.kill('SIGTERM');
  await s.exited;
}

export async function serveLoad(): Promise<{
  scenarios: Scenario[];
  throughputRatio: number;
  cpuThroughputRatio: number;
  engine: EngineRow[];
  engineRatio: number;
  products: Awaited<ReturnType<typeof productsAlone>>;
  p95OverSingle: number;
  p50OverSingle: number;
  targets: { throughput: boolean; latency: boolean };
}> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'serve-load-'));
  try {
    const texts = readFileSync(path.join(root, 'public/datasets/complaint.test.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l).text as string);
    const { names, engine, products } = await prepare(dir, texts);
    // Tweets to continue. The demo model ends some completions at once (its EOS) and others run
    // to max_tokens; every scenario serves the same requests, so each pays the same mix.
    const requests = Array.from({ length: REQUESTS }, (_, i) => ({ model: names[i % ADAPTERS], prompt: texts[i % texts.length] }));
    // Both servers run side by side and the scenarios take turns, round after round, so a change
    // in this shared machine's load falls on all of them; each scenario reports its median round.
    const mixed = await startServer(dir, 'mixed');
    const perAdapter = await startServer(dir, 'per-adapter');
    const rounds: Scenario[][] = [[], [], [], []];
    try {
      await drive(mixed, 'warm-up', 'mixed', ADAPTERS, requests.slice(0, ADAPTERS));
      await drive(perAdapter, 'warm-up', 'per-adapter', ADAPTERS, requests.slice(0, ADAPTERS));
      for (let round = 0; round < ROUNDS; round++) {
        // The same requests one at a time: the latency each has alone, for the same mix of short
        // and long completions the concurrent scenarios serve.
        rounds[0].push(await drive(mixed, 'one request at a time (1 client)', 'mixed', 1, requests));
        rounds[1].push(await drive(mixed, '8 adapters mixed, 4 clients', 'mixed', 4, requests));
        rounds[2].push(await drive(mixed, '8 adapters mixed, 8 clients', 'mixed', 8, requests));
        rounds[3].push(await drive(perAdapter, 'one adapter at a time, 8 clients', 'per-adapter', 8, requests));
      }
    } finally {
      await Promise.all([stop(mixed), stop(perAdapter)]);
    }
    const median = (rs: Scenario[]) => [...rs].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond)[rs.length >> 1];
    const scenarios = rounds.map(median);
    const [one, mixed4, mixed8, swapped] = scenarios;
    const throughputRatio = mixed8.requestsPerSecond / swapped.requestsPerSecond;
    const cpuThroughputRatio = mixed8.requestsPerCpuSecond / swapped.requestsPerCpuSecond;
    const p95OverSingle = mixed4.p95Ms / one.p95Ms;
    const p50OverSingle = mixed4.p50Ms / one.p50Ms;
    const engineRatio = engine[0].msPerRequest / engine[1].msPerRequest;
    return { scenarios, throughputRatio, cpuThroughputRatio, engine, engineRatio, products, p95OverSingle, p50OverSingle, targets: { throughput: throughputRatio >= 4, latency: p95OverSingle < 2 } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function serveLoadMarkdown(r: Awaited<ReturnType<typeof serveLoad>>, date: string): string {
  const [, , mixed8, swapped] = r.scenarios;
  const lines = [
    '# Serving load test',
    '',
    `${date}, \`node bench/serve-load.ts\` (also run by \`npm run bench\`): \`cli serve\` on the demo model (WASM backend, one Node process), ${ADAPTERS} soft-prompt adapters (V = 4 .. ${4 + 2 * (ADAPTERS - 1)}), ${REQUESTS} completion requests per scenario continuing the complaint task's tweets (request i asks adapter i mod ${ADAPTERS}), max_tokens ${MAX_TOKENS}, temperature 0, closed-loop clients over loopback; both servers run side by side and the scenarios take turns for ${ROUNDS} rounds, each row is a scenario's median round. A request arriving at an idle server waits up to \`--batch-window-ms\` (5 ms) for others to share its prefill; the latencies include that wait.`,
    '',
    '| scenario | batching | clients | requests | tokens per request | req/s | p50 latency (ms) | p95 latency (ms) | mean rows per step | req per server CPU-s |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...r.scenarios.map(
      (s) =>
        `| ${s.name}${s.cutShort ? ' (cut short)' : ''} | ${s.batching} | ${s.clients} | ${s.completed} | ${s.meanCompletionTokens.toFixed(1)} | ${s.requestsPerSecond.toFixed(2)} | ${s.p50Ms.toFixed(0)} | ${s.p95Ms.toFixed(0)} | ${s.meanBatch.toFixed(2)} | ${s.requestsPerCpuSecond.toFixed(2)} |`,
    ),
    '',
    `- Throughput, 8 adapters mixed against one adapter at a time (8 clients): **${r.throughputRatio.toFixed(2)}x** (target >= 4x: ${r.targets.throughput ? 'met' : 'not met'}).`,
    `- The same per CPU-second of the server process (robust to other load on the machine): **${r.cpuThroughputRatio.toFixed(2)}x**.`,
    `- The engine alone (\`DecodeBatch\` in one process, the same requests, no HTTP, JSON or scheduler), ${r.engine.map((e) => `${e.rows === 1 ? '1 row' : `${e.rows} rows`} in the batch: ${e.msPerRequest.toFixed(2)} ms a request (${e.msPerStep.toFixed(2)} ms a step, ${e.meanRows.toFixed(2)} rows a step)`).join('; ')}: **${r.engineRatio.toFixed(2)}x**. Served, the same requests take ${(1000 / mixed8.requestsPerSecond).toFixed(2)} ms (mixed, 8 clients) and ${(1000 / swapped.requestsPerSecond).toFixed(2)} ms (one adapter at a time) a request: HTTP, JSON and the scheduler add ${(1000 / mixed8.requestsPerSecond - r.engine[1].msPerRequest).toFixed(2)} and ${(1000 / swapped.requestsPerSecond - r.engine[0].msPerRequest).toFixed(2)} ms, so what batching gains is what the engine gains.`,
    `- The matrix products of the 8-row engine (tf.profile): ${r.products.mflopPerRequest.toFixed(1)} MFLOP a request at ${r.products.gflops.toFixed(1)} GFLOP/s, ${r.products.msPerRequest.toFixed(2)} ms a request (under the profiler). 4x the 1-row engine would need ${(r.engine[0].msPerRequest / 4).toFixed(2)} ms a request in all.`,
    `- p95 latency at 4 concurrent clients against the p95 of the same requests sent one at a time: **${r.p95OverSingle.toFixed(2)}x** (target < 2x: ${r.targets.latency ? 'met' : 'not met'}); p50 against p50: ${r.p50OverSingle.toFixed(2)}x.`,
    `- Load average of this ${os.cpus().length}-core machine at the end of the run: ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' / ')} (1 / 5 / 15 min).`,
    '',
  ];
  return lines.join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = await serveLoad();
  process.stdout.write(JSON.stringify(r, null, 2) + '\n');
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, serveLoadMarkdown(r, new Date().toISOString().slice(0, 10)));
  writeFileSync(
    out.replace(/\.md$/, '') + '.json',
    JSON.stringify({ date: new Date().toISOString().slice(0, 10), requests: REQUESTS, rounds: ROUNDS, maxTokens: MAX_TOKENS, loadAverage: os.loadavg(), ...r }, null, 2) + '\n',
  );
  process.stderr.write(`wrote ${path.relative(root, out)}\n`);
}
