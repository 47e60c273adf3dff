// The same spec through the tab's path (the worker's EngineService: planRun, TrainingRun,
// IndexedDB) and through the CLI (a `train --data` process) gives the same losses, the same
// validation steps and the same split; the stored split is what evaluation and the export use.
import 'fake-indexeddb/auto';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDataset } from '../src/engine/data/parse.ts';
import { DEFAULT_TRAIN_SPEC } from '../src/engine/run/spec.ts';
import { closeDb, getRun, listAdapters } from '../src/store/db.ts';
import type { EngineEvent, RunSpec } from '../src/worker/protocol.ts';
import type { EngineService } from '../src/worker/service.ts';
import { nodeService, type NodeService } from './support/service.ts';
import { LOCAL_FIXTURES, REPO_ROOT } from './support/fixtures.ts';

const LLAMA = path.join(LOCAL_FIXTURES, 'tiny-llama');
const SEED = 3;
const rowsText =
  Array.from({ length: 22 }, (_, i) => JSON.stringify({ text: `my parcel is ${i % 2 ? 'late again' : 'here, thanks'} #${i}`, label: i % 2 ? 'complaint' : 'no complaint' })).join('\n') + '\n';

function cliTrain(args: string[]): Promise<Record<string, any>[]> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--no-warnings', '--import', 'tsx', '--import', './src/node/register-hooks.mjs', 'src/cli/main.ts', 'train', ...args],
      { cwd: REPO_ROOT, maxBuffer: 64 << 20 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(stderr || error.message));
        else
          resolve(
            stdout
              .split('\n')
              .filter(Boolean)
              .map((l) => JSON.parse(l)),
          );
      },
    );
  });
}

let service: EngineService;
let events: EngineEvent[];
let trainRun: NodeService['train'];

beforeAll(async () => {
  ({ service, events, train: trainRun } = await nodeService(LLAMA, 'tiny-llama'));
});
afterAll(() => closeDb());

describe('one path for every run', () => {
  it('gives the same losses, validation steps and split in the worker and in the CLI', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'paths-'));
    const data = path.join(dir, 'tweets.jsonl');
    writeFileSync(data, rowsText);
    const train = { ...DEFAULT_TRAIN_SPEC, epochs: 2, batchSize: 4, maxLength: null, seed: SEED, valSplit: 0.2, lr: 0.05 };
    const spec: RunSpec = {
      label: 'paths',
      model: { kind: 'files', name: 'tiny-llama' },
      data: {
        name: 'tweets.jsonl',
        rows: parseDataset(rowsText, 'tweets.jsonl'),
        testRows: null,
        mapping: { kind: 'label', input: 'text', target: 'label', template: 'Tweet text : {text} Label : ' },
      },
      prompt: { kind: 'TEXT', text: 'is this a complaint', numVirtualTokens: 4, seed: SEED },
      train,
    };
    const end = await trainRun(spec);
    expect(end.status).toBe('completed');
    const tab = {
      loss: events.flatMap((e) => (e.type === 'step' ? [e.loss] : [])),
      evalStep: events.flatMap((e) => (e.type === 'eval' ? [e.step] : [])),
      valLoss: events.flatMap((e) => (e.type === 'eval' ? [e.valLoss] : [])),
    };

    const out = path.join(dir, 'adapter');
    const lines = await cliTrain([
      '--model',
      LLAMA,
      '--data',
      data,
      '--init',
      'TEXT',
      '--init-text',
      'is this a complaint',
      '--virtual-tokens',
      '4',
      '--seed',
      String(SEED),
      '--epochs',
      '2',
      '--batch-size',
      '4',
      '--val-split',
      '0.2',
      '--lr',
      '0.05',
      '--out',
      out,
    ]);
    const cli = {
      loss: lines.filter((l) => l.type === 'step').map((l) => l.loss),
      evalStep: lines.filter((l) => l.type === 'eval').map((l) => l.step),
      valLoss: lines.filter((l) => l.type === 'eval').map((l) => l.val_loss),
    };

    expect(tab.loss).toHaveLength(10); // 18 training rows / 4 per batch = 5 steps per epoch, 2 epochs
    expect(cli.loss).toHaveLength(tab.loss.length);
    for (const [i, l] of tab.loss.entries()) expect(Math.abs(l - cli.loss[i]), `step ${i + 1}`).toBeLessThanOrEqual(1e-6 * Math.max(1, l));
    // One cadence: twice per epoch (every 3 steps of 5), the same in both.
    expect(tab.evalStep).toEqual([3, 6, 9]);
    expect(cli.evalStep).toEqual(tab.evalStep);
    for (const [i, l] of tab.valLoss.entries()) expect(Math.abs(l - cli.valLoss[i])).toBeLessThanOrEqual(1e-6 * Math.max(1, l));

    // The run stored its split; the CLI wrote the same row ids into split.json beside train_peft.py.
    const run = await getRun(end.runId);
    const split = JSON.parse(readFileSync(path.join(out, 'split.json'), 'utf8'));
    expect(run?.split.validation).toHaveLength(4);
    expect(split).toMatchObject({ dataset: run?.split.datasetHash, rows: 22, train: run?.split.train, validation: run?.split.validation });
    expect(readFileSync(path.join(out, 'train_peft.py'), 'utf8')).toContain('p.add_argument("--eval-every", type=int, default=3');
  });

  it('evaluates on the rows the run held out and keeps the accuracy with the rows it names', async () => {
    const [adapter] = await service.listAdapters();
    const run = await getRun(adapter.runId as string);
    const r = await service.evaluate({ set: { kind: 'run', runId: run!.id, limit: null }, conditions: [{ kind: 'adapter', adapterId: adapter.id }], labelTask: true });
    const rows = parseDataset(rowsText, 'x');
    expect(r.examples.map((e) => e.target)).toEqual(run!.split.validation.map((i) => rows[i].label));
    expect(r.heldOut).toBe(true);
    const stored = (await listAdapters()).find((a) => a.id === adapter.id);
    expect(stored?.metrics.accuracy).toMatchObject({ value: r.results[0].labels?.accuracy, count: 4, heldOut: true, datasetHash: run!.split.datasetHash });
    expect(stored?.metrics.accuracy?.rows).toContain('4 validation rows of tweets.jsonl');
    // The export says which rows the accuracy is on and ships the split.
    const ex = await service.exportAdapter(adapter.id);
    const card = new TextDecoder().decode(ex.files['README.md']);
    expect(card).toMatch(/held-out accuracy: [\d.]+% on 4 validation rows of tweets.jsonl/);
    expect(JSON.parse(new TextDecoder().decode(ex.files['split.json'])).validation).toEqual(run!.split.validation);
    expect(card).toContain('local model folder');
    // And the mixed-batch server for the adapter's base model, pinned to its revision.
    const serve = new TextDecoder().decode(ex.files['serve_peft.py']);
    expect(serve).toContain(`BASE_MODEL = ${JSON.stringify(adapter.config.baseModel)}`);
    expect(card).toContain('python serve_peft.py --adapters ..');
  });

  it("shows the data panel the numbers of the run's own plan", async () => {
    const run = await getRun((await service.listAdapters())[0].runId as string);
    const { data, prompt, train } = run!.spec;
    const dataset = { name: data.name, rows: parseDataset(rowsText, 'tweets.jsonl'), mapping: data.mapping, testRows: null };
    const stats = await service.dataStats({ data: dataset, prompt, train });
    expect(stats).toMatchObject({ trainCount: run!.split.train.length, valCount: run!.split.validation.length, stepsPerEpoch: 5, totalSteps: run!.totalSteps, truncated: 0 });
    // All epochs: the page applies the step limit itself.
    expect((await service.dataStats({ data: dataset, prompt, train: { ...train, maxSteps: 3 } })).totalSteps).toBe(run!.totalSteps);
  });
});
