// `npm run bench`: the prompt-tuning step on every backend this machine has, for the demo model,
// random-weight models with the shapes of gpt2, SmolLM2-135M and bloomz-560m, and (when
// scripts/realsize/make_checkpoints.py has written them) the real-size 16-bit checkpoints of
// SmolLM2-135M, Qwen2.5-0.5B and bloomz-560m loaded through the Hub code path from a local server;
// plus PyTorch side by side (Debian's python3-torch and a pip torch 2.x). Prints JSON; writes docs/benchmarks.md.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchRow } from './row.ts';
import { runBrowserRows } from './browser.ts';
import { markdownReport, type BenchMeta, type Outcome } from './report.ts';
import { BENCH_SHAPES } from './shapes.ts';
import { DEFAULT_STEP_BENCH } from './step-bench.ts';
import { modelConfig } from '../src/engine/models/registry.ts';
import { REALSIZE_REPOS, realsizeConfig, realsizeDir, realsizeFileBytes } from './realsize.ts';
import { startHubServer, type HubServer } from '../test/support/hub-server.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? undefined : args[i + 1];
};
const list = (name: string, all: string[]) => flag(name)?.split(',') ?? all;

const DEMO = 'public/models/playground-demo';
const realsize = Object.keys(REALSIZE_REPOS).filter((m) => realsizeDir(m));
const shapes = list('models', [...(existsSync(path.join(root, DEMO)) ? ['demo'] : []), 'gpt2-124m', 'smollm2-135m', 'bloomz-560m', ...realsize]);
const platforms = list('platforms', ['node', 'browser', 'torch', 'serve']);
const nodeBackends = list('node-backends', ['wasm', 'cpu']);
const browserBackends = list('browser-backends', ['webgpu', 'wasm', 'webgl', 'cpu']);
const steps = Number(flag('steps') ?? 3);
// The tuning methods side by side on one shape (Node rows): each method's step against prompt tuning's.
const METHODS_SHAPE = flag('methods-model') ?? 'smollm2-135m';
const methods = list('methods', ['prompt', 'lora', 'prefix', 'p_tuning']);
const warmup = Number(flag('warmup') ?? DEFAULT_STEP_BENCH.warmup);
// `--profile 0` skips the extra profiled step (tfjs's peak tensor bytes); the WASM heap is reported either way.
const profile = flag('profile') !== '0';
const timeoutS = Number(flag('timeout') ?? 420);

/** Useful FLOPs of one step per model, for predicting rows that cannot finish in time. */
const STEP_FLOPS: Record<string, number> = {};
function usefulFlops(model: string): number | null {
  const shape = BENCH_SHAPES[model] ?? realsizeConfig(model);
  if (!shape) return STEP_FLOPS[model] ?? null;
  const c = modelConfig(shape);
  const perLayer =
    c.family !== 'gpt2' && c.family !== 'bloom'
      ? c.hiddenSize * c.headDim * (c.numHeads + 2 * c.numKvHeads) + c.numHeads * c.headDim * c.hiddenSize + 3 * c.hiddenSize * c.intermediateSize
      : 4 * c.hiddenSize * c.hiddenSize + 2 * c.hiddenSize * c.intermediateSize;
  const o = DEFAULT_STEP_BENCH;
  return 4 * perLayer * c.numLayers * o.batch * (o.seq + o.virtualTokens) + 4 * c.hiddenSize * c.vocabSize * o.batch * o.labelTokens;
}

/**
 * Skips a row that could not finish within the limit even if its step ran at the backend's
 * matmul ceiling (measured on a smaller model in the same run), saying so, instead of waiting
 * out the limit.
 */
function hopeless(ceilingGflops: number | undefined, model: string): string | null {
  const flops = usefulFlops(model);
  if (!ceilingGflops || !flops) return null;
  const perStep = flops / (ceilingGflops * 1e9);
  if (perStep * (steps + warmup) <= timeoutS) return null;
  return `not run: at least ${Math.round(perStep)} s per step even at this backend's ${ceilingGflops.toFixed(2)} GFLOP/s matmul ceiling (over the ${timeoutS} s limit for ${steps + warmup} steps)`;
}

function run(cmd: string, argv: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, argv, { cwd: root, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout, stderr, timedOut: Boolean(error && (error as { killed?: boolean }).killed) });
    });
    child.stdin?.end();
  });
}

function why(r: { code: number | null; stderr: string; timedOut: boolean }, seconds: number): string {
  if (r.timedOut) return `did not finish within ${seconds} s on this machine`;
  if (/Aborted\(\)|out of memory|Cannot allocate|OOM/i.test(r.stderr)) return 'ran out of memory (WASM has a 4 GB address space)';
  const line = r.stderr.split('\n').find((l) => /Error/.test(l)) ?? r.stderr.trim().split('\n').pop() ?? `exit ${r.code}`;
  return line.slice(0, 160);
}

async function nodeRows(): Promise<Outcome[]> {
  const out: Outcome[] = [];
  for (const backend of nodeBackends) {
    let speed: number | undefined;
    for (const [model, method] of shapes.flatMap((m) => (m === METHODS_SHAPE ? methods : ['prompt']).map((me) => [m, me] as const))) {
      const skip = hopeless(speed, model);
      if (skip) {
        out.push({ platform: 'node', backend, model, skipped: skip });
        process.stderr.write(`node ${backend} ${model}: ${skip}\n`);
        continue;
      }
      const source = model === 'demo' ? DEMO : hubRepo(model) ? `hub:${hub!.url}#${hubRepo(model)}` : '';
      const r = await run(
        process.execPath,
        [
          '--no-warnings',
          '--import',
          'tsx',
          '--import',
          './src/node/register-hooks.mjs',
          'bench/node-row.ts',
          backend,
          model,
          source,
          String(steps),
          String(realsizeFileBytes(model) ?? ''),
          String(warmup),
          profile ? '1' : '0',
          method,
        ],
        timeoutS * 1000,
      );
      const line = r.stdout.trim().split('\n').pop();
      if (r.code === 0 && line) {
        const row = JSON.parse(line) as BenchRow;
        speed = row.matmulGflops;
        out.push({ row });
      } else out.push({ platform: 'node', backend, model: method === 'prompt' ? model : `${model} (${method})`, skipped: why(r, timeoutS) });
      process.stderr.write(`node ${backend} ${model} ${method}: ${r.code === 0 ? 'done' : (out.at(-1) as { skipped: string }).skipped}\n`);
    }
  }
  return out;
}

const TORCH_SHAPES: Record<string, string> = { 'gpt2-124m': 'gpt2', 'smollm2-135m': 'smollm2-135m', 'bloomz-560m': 'bloomz-560m' };

/**
 * PyTorch on the CPU: Debian's python3-torch and a pip torch 2.x in a virtual environment
 * (`--torch-venv`, default /work/.venv-ref: `python -m venv v && v/bin/pip install torch
 * transformers peft`). The shape rows run ../shared/bench/torch_step.py; the real-size rows run
 * bench/torch_realsize.py, transformers + PEFT training the same checkpoint folder.
 */
const PYTHONS = [
  { python: '/usr/bin/python3', what: 'Debian python3-torch (apt-get install python3-torch libopenblas0-pthread)' },
  { python: path.join(flag('torch-venv') ?? '/work/.venv-ref', 'bin/python'), what: 'pip torch in a venv (--torch-venv)' },
];

async function torchRows(): Promise<Outcome[]> {
  const script = path.resolve(root, '../shared/bench/torch_step.py');
  const out: Outcome[] = [];
  for (const { python, what } of PYTHONS) {
    const probe = existsSync(python) ? await run(python, ['-c', 'import torch; print(torch.__version__)'], 60_000) : null;
    if (!probe || probe.code !== 0) {
      out.push({ platform: 'torch', backend: 'cpu', model: python, skipped: `${what}: torch is not installed for ${python}` });
      continue;
    }
    const version = probe.stdout.trim();
    for (const model of shapes) {
      const folder = realsizeDir(model);
      const argv = folder
        ? [path.join(root, 'bench/torch_realsize.py'), folder, '8', '64', '20', String(steps)]
        : TORCH_SHAPES[model] && existsSync(script)
          ? [script, TORCH_SHAPES[model], '8', '64', '20', String(steps)]
          : null;
      if (!argv) continue;
      const r = await run(python, argv, timeoutS * 1000);
      const m = r.stdout.match(/\{.*\}/);
      if (r.code === 0 && m) {
        const t = JSON.parse(m[0].replace(/'/g, '"')) as { params: number; step_s: number; tokens_per_s: number; gflops: number; threads: number };
        out.push({ torch: { model, params: t.params, stepMs: t.step_s * 1000, tokensPerSecond: t.tokens_per_s, gflops: t.gflops, threads: t.threads, torchVersion: version } });
      } else out.push({ platform: `torch ${version}`, backend: 'cpu', model, skipped: why(r, timeoutS) });
      process.stderr.write(`torch ${version} ${model}: ${r.code === 0 ? 'done' : (out.at(-1) as { skipped: string }).skipped}\n`);
    }
  }
  return out;
}

// `--from docs/benchmarks.json` rewrites the Markdown from a saved run without measuring again.
const from = flag('from');
const saved = from ? (JSON.parse(readFileSync(from, 'utf8')) as { meta: BenchMeta; outcomes: Outcome[] }) : null;
const meta: BenchMeta = saved?.meta ?? { date: new Date().toISOString().slice(0, 10), steps, warmup, timeoutS };
const outcomes: Outcome[] = saved?.outcomes ?? [];
// The real-size checkpoints, served in the Hub's URL layout for the rows that load them.
const hubRepos = shapes.filter((m) => realsizeDir(m));
const hub: HubServer | null = !saved && hubRepos.length ? await startHubServer(hubRepos.map((m) => ({ id: REALSIZE_REPOS[m], dir: realsizeDir(m)! }))) : null;
function hubRepo(model: string): string | null {
  return hub && realsizeDir(model) ? REALSIZE_REPOS[model] : null;
}
if (!saved) {
  try {
    if (platforms.includes('node')) outcomes.push(...(await nodeRows()));
    if (platforms.includes('browser'))
      outcomes.push(
        ...(await runBrowserRows(root, browserBackends, shapes, { steps, warmup, profile }, timeoutS, hopeless, (m) =>
          hubRepo(m) ? { hub: hub!.url, repo: hubRepo(m)!, fileBytes: realsizeFileBytes(m)! } : null,
        )),
      );
    if (platforms.includes('torch')) outcomes.push(...(await torchRows()));
  } finally {
    await hub?.close();
  }
  // The serving load test has its own table (docs/serve-load.md), written by bench/serve-load.ts.
  if (platforms.includes('serve')) {
    const r = await run(process.execPath, ['--no-warnings', '--import', 'tsx', '--import', './src/node/register-hooks.mjs', 'bench/serve-load.ts'], timeoutS * 1000);
    process.stderr.write(r.code === 0 ? 'serve load test: wrote docs/serve-load.md\n' : `serve load test: ${why(r, timeoutS)}\n`);
  }
}

process.stdout.write(JSON.stringify(outcomes, null, 2) + '\n');
const file = flag('out') ?? path.join(root, 'docs/benchmarks.md');
mkdirSync(path.dirname(file), { recursive: true });
writeFileSync(file, markdownReport(outcomes, meta));
if (!saved) writeFileSync(file.replace(/\.md$/, '') + '.json', JSON.stringify({ meta, outcomes }, null, 2) + '\n');
process.stderr.write(`wrote ${path.relative(root, file)}\n`);
