// The CLI end to end, as a user runs it: one process per command, JSON on stdout.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSafetensors } from '../src/engine/io/safetensors.ts';
import { evaluateLabels } from '../src/engine/evaluate.ts';
import { loadModel } from '../src/engine/load.ts';
import { parseSuite } from '../src/engine/run/suite.ts';
import { initNodeBackend } from '../src/node/backend.ts';
import { FolderSource } from '../src/node/folder-source.ts';
import { readAdapterFolder } from '../src/node/adapter-folder.ts';
import { startHubServer, type HubServer } from './support/hub-server.ts';
import { LOCAL_FIXTURES, REPO_ROOT, baseFixtureModels, maxAbsDiff, readCase, tensorTolerance } from './support/fixtures.ts';

interface Run {
  code: number;
  stdout: string;
  lines: Record<string, any>[];
  stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--no-warnings', '--import', 'tsx', '--import', './src/node/register-hooks.mjs', 'src/cli/main.ts', ...args],
      { cwd: REPO_ROOT, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const lines = args.includes('--help')
          ? []
          : stdout
              .split('\n')
              .filter(Boolean)
              .map((l) => JSON.parse(l));
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, lines, stdout, stderr });
      },
    );
  });
}

const GPT2 = path.join(LOCAL_FIXTURES, 'tiny-gpt2');
const LLAMA = path.join(LOCAL_FIXTURES, 'tiny-llama');
const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'cli-'));

let dataFile: string;
let hub: HubServer;

beforeAll(async () => {
  dataFile = path.join(tmp(), 'tweets.jsonl');
  const rows = Array.from({ length: 20 }, (_, i) => JSON.stringify({ text: `my parcel is ${i % 2 ? 'late again' : 'here, thanks'} #${i}`, label: i % 2 ? 'complaint' : 'no complaint' }));
  writeFileSync(dataFile, rows.join('\n') + '\n');
  hub = await startHubServer([{ id: 'test-org/tiny-llama', dir: LLAMA }]);
});
afterAll(() => hub.close());

describe('CLI', () => {
  it('tokenize prints the ids', async () => {
    const r = await cli(['tokenize', '--model', LLAMA, '--text', 'Hello world']);
    expect(r.code).toBe(0);
    expect(r.lines).toEqual([{ ids: readCase(LLAMA, 'tokenizer').json.ids[readCase(LLAMA, 'tokenizer').json.strings.indexOf('Hello world')] }]);
  });

  it('init writes an untrained adapter for each init kind', async () => {
    for (const kind of ['TEXT', 'SAMPLE_VOCAB', 'RANDOM']) {
      const out = tmp();
      const r = await cli(['init', '--model', GPT2, '--init', kind, '--virtual-tokens', '24', '--seed', '1', '--out', out]);
      expect(r.code, r.stderr).toBe(0);
      const a = readAdapterFolder(out);
      expect(a.config.init).toBe(kind);
      expect(a.config.numVirtualTokens).toBe(24);
      if (kind === 'TEXT') expect(r.lines[0].init_ids).toEqual(readCase(GPT2, 'init-text-short').json.init.ids);
    }
  });

  it('forward writes logits and the prompt gradient matching the fixture', async () => {
    const dir = path.join(GPT2, 'cases/forward');
    const out = path.join(tmp(), 'f.safetensors');
    const r = await cli(['forward', '--model', GPT2, '--adapter', path.join(dir, 'adapter'), '--input', path.join(dir, 'case.json'), '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const { json, expected } = readCase(GPT2, 'forward');
    expect(Math.abs(r.lines[0].loss - json.loss)).toBeLessThan(1e-5 * json.loss);
    const got = parseSafetensors(new Uint8Array(readFileSync(out)), out);
    for (const key of ['logits', 'grad_prompt_embeddings']) {
      const want = expected!.get(key).data;
      expect(maxAbsDiff(got.get(key).data, want)).toBeLessThanOrEqual(tensorTolerance(want));
    }
  });

  it('train --batches reproduces the fixture training case', async () => {
    const dir = path.join(LLAMA, 'cases/train');
    const out = tmp();
    const r = await cli(['train', '--model', LLAMA, '--batches', path.join(dir, 'case.json'), '--adapter', path.join(dir, 'adapter'), '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const { json, expected } = readCase(LLAMA, 'train');
    const steps = r.lines.filter((l) => l.type === 'step');
    expect(steps.map((s) => s.step)).toEqual([1, 2, 3]);
    steps.forEach((s, k) => {
      expect(Math.abs(s.loss - json.train.losses[k])).toBeLessThan(1e-5 * json.train.losses[k]);
      expect(s.lr).toBeCloseTo(json.train.lrs[k], 12);
    });
    expect(r.lines.at(-1)).toMatchObject({ type: 'summary', steps: 3, stop_reason: 'completed' });
    const after = expected!.get('prompt_embeddings_after').data;
    expect(maxAbsDiff(readAdapterFolder(out).promptEmbeddings, after)).toBeLessThanOrEqual(tensorTolerance(after));
  });

  it('train --data runs epochs with validation and writes an adapter that eval and generate use', async () => {
    const out = tmp();
    const r = await cli(['train', '--model', LLAMA, '--data', dataFile, '--init', 'TEXT', '--virtual-tokens', '6', '--epochs', '2', '--batch-size', '4', '--val-split', '0.2', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.lines.filter((l) => l.type === 'step').length).toBe(8);
    // Validation twice per epoch (4 steps each), the tab's cadence.
    expect(r.lines.filter((l) => l.type === 'eval').map((l) => l.step)).toEqual([2, 4, 6, 8]);
    const summary = r.lines.at(-1)!;
    expect(summary).toMatchObject({ type: 'summary', steps: 8, train_examples: 16, val_examples: 4, truncated: 0, task: 'label' });
    expect(readAdapterFolder(out).config).toMatchObject({ numVirtualTokens: 6, init: 'TEXT', baseModel: 'tiny-llama' });

    const e = await cli(['eval', '--model', LLAMA, '--adapter', out, '--data', dataFile]);
    expect(e.code, e.stderr).toBe(0);
    expect(e.lines[0]).toMatchObject({ examples: 20, truncated: 0 });
    expect(e.lines[0].loss).toBeGreaterThan(0);
    expect(Object.keys(e.lines[0].per_label).sort()).toEqual(['complaint', 'no complaint']);
    expect(e.lines[0].majority_baseline.accuracy).toBe(0.5);
    // --split: only the 4 validation rows the run held out (split.json beside the adapter).
    const held = await cli(['eval', '--model', LLAMA, '--adapter', out, '--data', dataFile, '--split', path.join(out, 'split.json')]);
    expect(held.code, held.stderr).toBe(0);
    expect(held.lines[0]).toMatchObject({ examples: 4 });

    const g = await cli(['generate', '--model', LLAMA, '--adapter', out, '--prompt', 'Once upon a time', '--max-new-tokens', '5', '--greedy']);
    expect(g.code, g.stderr).toBe(0);
    expect(g.lines[0].ids.length).toBeLessThanOrEqual(5);
    expect(typeof g.lines[0].text).toBe('string');
  });

  it('reports truncated examples in the summary', async () => {
    const r = await cli(['train', '--model', LLAMA, '--data', dataFile, '--max-length', '12', '--max-steps', '1', '--virtual-tokens', '2', '--out', tmp()]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.lines.at(-1)!.truncated).toBe(20);
    expect(r.stderr).toContain('20 example(s) were longer than 12 tokens and were truncated');
  });

  it('generate --greedy matches the fixture greedy case', async () => {
    const { json } = readCase(GPT2, 'greedy');
    const r = await cli([
      'generate',
      '--model',
      GPT2,
      '--adapter',
      path.join(GPT2, 'cases/greedy/adapter'),
      '--prompt',
      json.greedy.prompt_text,
      '--max-new-tokens',
      String(json.greedy.max_new_tokens),
      '--greedy',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.lines[0].ids).toEqual(json.greedy.output_ids);
  });

  it('loads a Hub id from HF_ENDPOINT and records the resolved commit in the adapter', async () => {
    const out = tmp();
    const r = await cli(['init', '--model', 'test-org/tiny-llama', '--init', 'RANDOM', '--virtual-tokens', '3', '--out', out], { HF_ENDPOINT: hub.url });
    expect(r.code, r.stderr).toBe(0);
    expect(readAdapterFolder(out).config).toMatchObject({ baseModel: 'test-org/tiny-llama', revision: hub.commitOf('test-org/tiny-llama') });
    const t = await cli(['tokenize', '--model', 'test-org/tiny-llama@main', '--text', 'Hello world'], { HF_ENDPOINT: hub.url });
    expect(t.lines[0].ids).toEqual([1, 346, 306, 414, 263, 304, 341]);
  });

  it('answers bad input with a JSON error and a non-zero exit', async () => {
    const cases: [string[], RegExp, number][] = [
      [['frobnicate'], /unknown command "frobnicate"/, 2],
      [['tokenize', '--model', LLAMA, '--txt', 'x'], /unknown flag --txt/, 2],
      [['init', '--model', LLAMA, '--virtual-tokens', 'many', '--out', '/tmp/x'], /--virtual-tokens must be an integer, got "many"/, 2],
      [['train', '--model', LLAMA, '--data', 'a.jsonl', '--batches', 'b.json', '--out', '/tmp/x'], /give --data or --batches, not both/, 2],
      [['eval', '--model', LLAMA, '--data', '/no/such/file.jsonl'], /cannot read \/no\/such\/file.jsonl/, 1],
      [['tokenize', '--model', './no-such-folder', '--text', 'x'], /model folder .\/no-such-folder does not exist/, 1],
      [['init', '--model', LLAMA, '--init', 'ZEROS', '--out', '/tmp/x'], /init "ZEROS" is not one of TEXT, SAMPLE_VOCAB, RANDOM/, 1],
      [['generate', '--model', LLAMA, '--adapter', path.join(GPT2, 'cases/forward/adapter'), '--prompt', 'x'], /adapter was trained on tiny-gpt2, the loaded model is tiny-llama/, 0],
    ];
    const runs = await Promise.all(cases.map(([args]) => cli(args)));
    for (const [i, [args, message, code]] of cases.entries()) {
      const r = runs[i];
      expect(r.code, args.join(' ')).toBe(code);
      const text = code === 0 ? r.stderr : r.lines[0].error;
      expect(text, args.join(' ')).toMatch(message);
    }
  });

  it('forward and greedy generate match the fixtures on every fixture model', async () => {
    // Two CLI processes per model, all at once: the family fixtures run in-process in fixture-cases.test.ts.
    const models = baseFixtureModels();
    const runs = await Promise.all(
      models.map(async ({ dir }) => {
        const out = path.join(tmp(), 'f.safetensors');
        const f = await cli(['forward', '--model', dir, '--adapter', path.join(dir, 'cases/forward/adapter'), '--input', path.join(dir, 'cases/forward/case.json'), '--out', out]);
        const g = readCase(dir, 'greedy').json.greedy;
        const gen = await cli(['generate', '--model', dir, '--adapter', path.join(dir, 'cases/greedy/adapter'), '--prompt', g.prompt_text, '--max-new-tokens', String(g.max_new_tokens), '--greedy']);
        return { f, out, gen, g };
      }),
    );
    models.forEach(({ name, dir }, i) => {
      const { f, out, gen, g } = runs[i];
      expect(f.code, `${name}: ${f.stderr}`).toBe(0);
      const want = readCase(dir, 'forward').expected!.get('logits').data;
      expect(maxAbsDiff(parseSafetensors(new Uint8Array(readFileSync(out)), out).get('logits').data, want), name).toBeLessThanOrEqual(tensorTolerance(want));
      expect(gen.lines[0].ids, name).toEqual(g.output_ids);
    });
  });

  it('defaults to the embedded demo model and the complaint task', async () => {
    const out = tmp();
    const t = await cli(['train', '--max-steps', '2', '--val-split', '0', '--out', out]);
    expect(t.code, t.stderr).toBe(0);
    expect(t.lines.at(-1)).toMatchObject({ type: 'summary', steps: 2, template: 'Tweet text : {text} Label : ', train_examples: 300 });
    expect(readAdapterFolder(out).config).toMatchObject({ baseModel: 'playground-demo', init: 'TEXT', initText: 'Classify if the tweet is a complaint or not:' });
    const e = await cli(['eval', '--adapter', out, '--limit', '6']);
    expect(e.code, e.stderr).toBe(0);
    expect(e.lines[0]).toMatchObject({ examples: 6 });
    expect(Object.keys(e.lines[0].per_label).length).toBeGreaterThan(0);
  });

  it('every method: PEFT adapters drive forward and generate, and train --batches continues them as PEFT does', async () => {
    const METHODS = path.join(LOCAL_FIXTURES, 'methods');
    const model = path.join(LOCAL_FIXTURES, 'families/llama');
    const runs = await Promise.all(
      ['prefix', 'ptuning-lstm', 'lora'].map(async (name) => {
        const dir = path.join(METHODS, 'llama', name);
        const c = JSON.parse(readFileSync(path.join(dir, 'case.json'), 'utf8'));
        const batch = path.join(tmp(), 'right.json');
        writeFileSync(batch, JSON.stringify(c.right));
        const out = path.join(tmp(), 'f.safetensors');
        const f = await cli(['forward', '--model', model, '--adapter', path.join(dir, 'adapter'), '--input', batch, '--out', out]);
        const g = await cli(['generate', '--model', model, '--adapter', path.join(dir, 'adapter'), '--prompt', c.greedy.prompt_text, '--max-new-tokens', '5', '--greedy']);
        const trained = tmp();
        const t = await cli(['train', '--model', model, '--batches', path.join(dir, 'case.json'), '--adapter', path.join(dir, 'adapter'), '--no-dropout', '--out', trained]);
        return { name, dir, c, f, out, g, t, trained };
      }),
    );
    for (const { name, dir, c, f, out, g, t, trained } of runs) {
      const expected = parseSafetensors(new Uint8Array(readFileSync(path.join(dir, 'expected.safetensors'))), 'expected');
      expect(f.code, `${name}: ${f.stderr}`).toBe(0);
      expect(f.lines[0].method).toBe({ prefix: 'prefix', 'ptuning-lstm': 'p_tuning', lora: 'lora' }[name]);
      const written = parseSafetensors(new Uint8Array(readFileSync(out)), out);
      expect(maxAbsDiff(written.get('logits').data, expected.get('logits').data), name).toBeLessThanOrEqual(tensorTolerance(expected.get('logits').data));
      // A gradient for each saved tensor (prompt_embeddings, or each lora_A / lora_B).
      expect(written.names().filter((n) => n.startsWith('grad_')).length, name).toBe(name === 'lora' ? 8 : 1);
      expect(g.lines[0].ids, name).toEqual(c.greedy.new_ids);
      if (name === 'ptuning-lstm') {
        // PEFT saved only the encoder's output: there is nothing to continue training from.
        expect(t.code).toBe(1);
        expect(t.lines[0].error).toMatch(/holds only the output of the p_tuning encoder/);
        continue;
      }
      // PEFT's files hold a plain prefix's and LoRA's trainable tensors: 3 steps from them are PEFT's 3 steps.
      expect(t.code, `${name}: ${t.stderr}`).toBe(0);
      const losses = t.lines.filter((l) => l.type === 'step').map((l) => l.loss);
      expect(maxAbsDiff(losses, c.train.losses), name).toBeLessThanOrEqual(1e-5 * Math.max(...c.train.losses));
      const saved = parseSafetensors(new Uint8Array(readFileSync(path.join(trained, 'adapter_model.safetensors'))), 'trained');
      const peft = parseSafetensors(new Uint8Array(readFileSync(path.join(dir, 'adapter-trained/adapter_model.safetensors'))), 'peft');
      for (const n of peft.names()) expect(maxAbsDiff(saved.get(n).data, peft.get(n).data), `${name} ${n}`).toBeLessThanOrEqual(tensorTolerance(peft.get(n).data));
    }
  });

  it('names what does not fit: a method, target modules, an adapter for another model', async () => {
    const lora = path.join(LOCAL_FIXTURES, 'methods/llama/lora/adapter');
    const cases: [string[], RegExp][] = [
      [['train', '--model', LLAMA, '--method', 'adapters', '--out', '/tmp/x'], /--method must be one of prompt, prefix, p_tuning, lora, got "adapters"/],
      [
        ['train', '--model', LLAMA, '--method', 'lora', '--target-modules', 'c_attn', '--out', '/tmp/x'],
        /target_modules \["c_attn"\] match no module of this llama model \(its projections: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj\)/,
      ],
      [['generate', '--model', GPT2, '--adapter', lora, '--prompt', 'x'], /target_modules \["v_proj","q_proj"\] match no module of this gpt2 model \(its projections: c_attn, c_proj, c_fc\)/],
      [
        ['generate', '--model', GPT2, '--adapter', path.join(LOCAL_FIXTURES, 'methods/llama/prefix/adapter'), '--prompt', 'x'],
        /"prompt_embeddings" is \[3,64\] but the loaded model needs \[3,128\]: the adapter was made for another model/,
      ],
    ];
    const runs = await Promise.all(cases.map(([args]) => cli(args)));
    for (const [i, [args, message]] of cases.entries()) {
      expect(runs[i].code, args.join(' ')).not.toBe(0);
      expect(runs[i].lines[0].error, args.join(' ')).toMatch(message);
    }
  });

  it('merge folds a LoRA adapter into the weights: the merged model alone gives the adapted logits', async () => {
    const runs = await Promise.all(
      ['gpt2', 'llama'].map(async (family) => {
        const model = path.join(LOCAL_FIXTURES, 'families', family);
        const adapter = path.join(LOCAL_FIXTURES, 'methods', family, 'lora-all/adapter');
        const c = JSON.parse(readFileSync(path.join(LOCAL_FIXTURES, 'methods', family, 'lora-all/case.json'), 'utf8'));
        const batch = path.join(tmp(), 'right.json');
        writeFileSync(batch, JSON.stringify(c.right));
        const merged = tmp();
        const m = await cli(['merge', '--model', model, '--adapter', adapter, '--out', merged]);
        const [withAdapter, alone] = [path.join(tmp(), 'a.safetensors'), path.join(tmp(), 'b.safetensors')];
        const a = await cli(['forward', '--model', model, '--adapter', adapter, '--input', batch, '--out', withAdapter]);
        const b = await cli(['forward', '--model', merged, '--input', batch, '--out', alone]);
        return { family, m, a, b, withAdapter, alone };
      }),
    );
    for (const { family, m, a, b, withAdapter, alone } of runs) {
      for (const r of [m, a, b]) expect(r.code, `${family}: ${r.stderr}`).toBe(0);
      const want = parseSafetensors(new Uint8Array(readFileSync(withAdapter)), 'a').get('logits').data;
      expect(maxAbsDiff(parseSafetensors(new Uint8Array(readFileSync(alone)), 'b').get('logits').data, want), family).toBeLessThanOrEqual(tensorTolerance(want));
      expect(b.lines[0].loss).toBeCloseTo(a.lines[0].loss, 5);
    }
    const refused = await cli(['merge', '--model', LLAMA, '--adapter', path.join(LOCAL_FIXTURES, 'methods/llama/prefix/adapter'), '--out', tmp()]);
    expect(refused.code).toBe(2);
    expect(refused.lines[0].error).toMatch(/is a prefix adapter; only LoRA's deltas merge into the weights/);
  });

  it('suite writes a suite file of rows taken round-robin over the labels, which parseSuite reads', async () => {
    const out = path.join(tmp(), 'complaints.suite.json');
    const r = await cli(['suite', '--task', 'complaints', '--data', dataFile, '--rows', '5', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const s = await parseSuite(readFileSync(out, 'utf8'), out);
    expect(r.lines).toEqual([{ out, task: 'complaints', hash: s.hash, rows: 5, labels: ['no complaint', 'complaint'], source: '5 of the 20 rows of tweets.jsonl' }]);
    expect(s.examples.map((e) => e.target)).toEqual(['no complaint', 'complaint', 'no complaint', 'complaint', 'no complaint']);
    expect(s.examples[1]).toEqual({ input: 'Tweet text : my parcel is late again #1 Label : ', target: 'complaint' });
    const all = await cli(['suite', '--task', 'complaints', '--data', dataFile, '--out', path.join(tmp(), 'all.suite.json')]);
    expect(all.lines[0]).toMatchObject({ rows: 20, source: '20 of the 20 rows of tweets.jsonl' });

    const gen = path.join(tmp(), 'gen.jsonl');
    writeFileSync(gen, '{"prompt": "a", "completion": "b"}\n');
    const cases: [string[], RegExp, number][] = [
      [['suite', '--task', 't', '--data', gen, '--out', path.join(tmp(), 'x.json')], /suite: gen\.jsonl is a generation dataset; a suite scores labels/, 2],
      [['suite', '--task', 't', '--data', dataFile, '--rows', '0', '--out', path.join(tmp(), 'x.json')], /--rows must be at least 1/, 2],
      [['suite', '--data', dataFile, '--out', path.join(tmp(), 'x.json')], /--task/, 2],
    ];
    const runs = await Promise.all(cases.map(([args]) => cli(args)));
    for (const [i, [args, message, code]] of cases.entries()) {
      expect(runs[i].code, args.join(' ')).toBe(code);
      expect(runs[i].lines[0].error, args.join(' ')).toMatch(message);
    }
  });

  it('eval --suite scores each --adapter on the suite: the versions as JSON, the table on stderr', async () => {
    const file = path.join(tmp(), 'complaints.suite.json');
    const made = await cli(['suite', '--task', 'complaints', '--data', dataFile, '--rows', '6', '--out', file]);
    expect(made.code, made.stderr).toBe(0);
    const [v1, v2, hubInit] = [path.join(tmp(), 'v1'), path.join(tmp(), 'v2'), path.join(tmp(), 'hub-init')];
    const trained = await Promise.all([
      cli(['train', '--model', LLAMA, '--data', dataFile, '--max-steps', '2', '--virtual-tokens', '3', '--init-text', 'is it a complaint', '--suite', file, '--out', v1]),
      cli(['train', '--model', LLAMA, '--data', dataFile, '--max-steps', '2', '--virtual-tokens', '3', '--init-text', 'the weather in spring', '--seed', '7', '--out', v2]),
      cli(['init', '--model', 'test-org/tiny-llama', '--init', 'RANDOM', '--virtual-tokens', '3', '--out', hubInit], { HF_ENDPOINT: hub.url }),
    ]);
    for (const t of trained) expect(t.code, t.stderr).toBe(0);
    // hub-init as if trained on an older commit of the base model; the model is loaded from the Hub, at its current commit.
    const hubConfig = path.join(hubInit, 'adapter_config.json');
    writeFileSync(hubConfig, JSON.stringify({ ...JSON.parse(readFileSync(hubConfig, 'utf8')), revision: 'an-older-commit' }));

    const e = await cli(['eval', '--model', 'test-org/tiny-llama', '--suite', file, '--adapter', v1, '--adapter', v2, '--adapter', hubInit], { HF_ENDPOINT: hub.url });
    expect(e.code, e.stderr).toBe(0);
    expect(e.lines).toHaveLength(1);
    const out = e.lines[0];
    expect(out).toMatchObject({ task: 'complaints', suite: made.lines[0].hash, rows: 6 });
    expect(out.versions.map((v: any) => [v.version, v.adapter, v.name])).toEqual([
      [1, v1, 'v1'],
      [2, v2, 'v2'],
      [3, hubInit, 'hub-init'],
    ]);
    const [a, b, c] = out.versions;
    expect(a.delta).toBeNull();
    expect(b.delta).toBeCloseTo((b.accuracy - a.accuracy) * 100, 9);
    expect(c.delta).toBeCloseTo((c.accuracy - b.accuracy) * 100, 9);
    expect(out.versions.map((v: any) => [v.stale, v.drift])).toEqual([
      [false, false],
      [false, false],
      [false, true],
    ]);
    // v1 and v2 were trained on a local folder (no revision): no drift is claimed for them.
    expect(out.versions.map((v: any) => v.revision)).toEqual([null, null, 'an-older-commit']);
    expect(out.versions.map((v: any) => v.dropped)).toEqual(out.versions.map((v: any) => v.delta !== null && v.delta < -2 - 1e-9));

    // train --suite scored v1 as it was written: the same score.
    expect(trained[0].lines.at(-1)!.suite).toEqual({ task: 'complaints', hash: made.lines[0].hash, rows: 6, accuracy: a.accuracy, per_label: a.perLabel, loss: expect.any(Number) });
    expect(trained[1].lines.at(-1)!.suite).toBeUndefined();

    // The same rows through plain eval (the suite is the first 6 rows, 3 of each label): the same accuracy and per label.
    const six = path.join(tmp(), 'six.jsonl');
    writeFileSync(six, readFileSync(dataFile, 'utf8').split('\n').slice(0, 6).join('\n') + '\n');
    const plain = await cli(['eval', '--model', LLAMA, '--adapter', v1, '--data', six]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(a.accuracy).toBe(plain.lines[0].accuracy);
    expect(a.perLabel).toEqual(plain.lines[0].per_label);
    expect(Object.values(a.perLabel as Record<string, { total: number }>).map((s) => s.total)).toEqual([3, 3]);

    // The table: a header with a column per label, a row per version, the drift flag.
    const lines = e.stderr.split('\n');
    expect(e.stderr).toContain(`complaints: 6-row suite ${made.lines[0].hash.slice(0, 12)} (6 of the 20 rows of tweets.jsonl)`);
    const head = lines.findIndex((l) => l.startsWith('version'));
    expect(lines[head].split(/\s{2,}/)).toEqual(['version', 'adapter', 'accuracy', 'change', '"no complaint"', '"complaint"', 'flags']);
    expect(lines[head + 2]).toMatch(new RegExp(`^v1  +v1  +${(a.accuracy * 100).toFixed(1)}%  `));
    expect(lines[head + 3]).toMatch(/^v2 {2,}v2 {2,}\d+\.\d% {2,}[+-]\d+\.\d pt {2}/);
    expect(lines[head + 4]).toMatch(new RegExp(`^v3  +hub-init  .*base revision an-older-commit != loaded ${hub.commitOf('test-org/tiny-llama')}$`));

    // No --adapter: the base model alone, as v1, on a suite whose gold labels are partly the base model's own answers
    // (short ones, so the suite decodes as many tokens as they were found with): its accuracy is neither 0 nor 1,
    // and plain eval of the same rows agrees.
    await initNodeBackend();
    const lm = await loadModel(new FolderSource(LLAMA));
    const texts = ['my parcel is late again', 'here, thanks', 'lost my bag', 'great service', 'nobody answers', 'all good', 'still nothing'];
    const probe = await evaluateLabels(
      lm.model,
      lm.tokenizer,
      null,
      texts.map((t) => ({ input: `Tweet text : ${t} Label : `, target: 'x' })),
      lm.eosTokenId,
    );
    const answers = texts.map((text, i) => {
      const p = probe.predictions[i].predicted;
      return { text, label: i < texts.length - 1 && p && p !== 'x' && lm.tokenizer.encode(p, false).length <= lm.tokenizer.encode('x', false).length ? p : 'x' };
    });
    const own = path.join(tmp(), 'own.jsonl');
    writeFileSync(own, answers.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const ownSuite = path.join(tmp(), 'own.suite.json');
    expect((await cli(['suite', '--task', 'own', '--data', own, '--out', ownSuite])).code).toBe(0);
    const [base, direct] = await Promise.all([cli(['eval', '--model', LLAMA, '--suite', ownSuite]), cli(['eval', '--model', LLAMA, '--data', own])]);
    expect(base.code, base.stderr).toBe(0);
    expect(base.lines[0].versions).toHaveLength(1);
    const only = base.lines[0].versions[0];
    expect(only).toMatchObject({ version: 1, adapter: null, name: 'base model (no adapter)', drift: false, delta: null, stale: false });
    expect(only.accuracy).toBeGreaterThan(0);
    expect(only.accuracy).toBeLessThan(1);
    expect(only.accuracy).toBe(direct.lines[0].accuracy);
    expect(only.perLabel).toEqual(direct.lines[0].per_label);
    expect(base.stderr).toMatch(new RegExp(`\\nv1  +base model \\(no adapter\\)  +${(only.accuracy * 100).toFixed(1)}%`));
  });

  it('eval refuses several --adapter without --suite, and a suite file that is wrong', async () => {
    const file = path.join(tmp(), 's.suite.json');
    expect((await cli(['suite', '--task', 'complaints', '--data', dataFile, '--rows', '4', '--out', file])).code).toBe(0);
    const edited = JSON.parse(readFileSync(file, 'utf8'));
    edited.examples[0].target = 'complaint';
    const editedFile = path.join(tmp(), 'edited.suite.json');
    writeFileSync(editedFile, JSON.stringify(edited));
    const wrongFormat = path.join(tmp(), 'format.suite.json');
    writeFileSync(wrongFormat, JSON.stringify({ ...edited, format: 'something/else' }));
    const adapter = path.join(LLAMA, 'cases/train/adapter');
    const never = path.join(tmp(), 'never');
    const cases: [string[], RegExp, number][] = [
      [['eval', '--model', LLAMA, '--adapter', adapter, '--adapter', adapter, '--data', dataFile], /eval: several --adapter flags compare versions on a suite: give --suite FILE too/, 2],
      [['eval', '--model', LLAMA, '--suite', editedFile, '--adapter', adapter], /edited\.suite\.json: its rows do not match its "hash"/, 1],
      [['eval', '--model', LLAMA, '--suite', wrongFormat], /format\.suite\.json: "format" must be "prompt-tuning-playground\/suite" \(got "something\/else"\)/, 1],
      [['eval', '--model', LLAMA, '--suite', '/no/such.suite.json'], /^cannot read \/no\/such\.suite\.json: ENOENT/, 2],
      [['train', '--model', LLAMA, '--data', dataFile, '--suite', editedFile, '--out', never], /edited\.suite\.json: its rows do not match its "hash"/, 1],
    ];
    const runs = await Promise.all(cases.map(([args]) => cli(args)));
    for (const [i, [args, message, code]] of cases.entries()) {
      expect(runs[i].code, args.join(' ')).toBe(code);
      expect(runs[i].lines[0].error, args.join(' ')).toMatch(message);
    }
    // train --suite read the suite before training: nothing was written.
    expect(existsSync(never)).toBe(false);
    const help = await cli(['eval', '--help']);
    expect(help.stdout).toMatch(/--adapter <string> .*\(repeatable\)/);
    expect(help.stdout).toContain('--suite <string>');
  });

  it('prints help for a command', async () => {
    const r = await cli(['train', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--virtual-tokens <int>');
  });
});
