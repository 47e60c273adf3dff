// Evaluation suites and adapter versions through the tab's path (the worker's EngineService,
// IndexedDB): the end of a label run pins the task's suite from its held-out rows and scores the
// new version on it; suites uploaded as a suite file or as rows; scoring on demand; an adapter's
// task; unpinning; the suite file the panel downloads.
import 'fake-indexeddb/auto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Example } from '../src/engine/data/examples.ts';
import { normalizeLabel } from '../src/engine/data/labels.ts';
import { parseDataset } from '../src/engine/data/parse.ts';
import { DEFAULT_TRAIN_SPEC } from '../src/engine/run/spec.ts';
import { makeSuite, parseSuite, pickSuiteRows, serializeSuite, type Suite } from '../src/engine/run/suite.ts';
import { closeDb, getAdapter, getRun, getSuite } from '../src/store/db.ts';
import type { EngineEvent, RunEnd, RunSpec } from '../src/worker/protocol.ts';
import type { EngineService } from '../src/worker/service.ts';
import { nodeService, type NodeService } from './support/service.ts';
import { LOCAL_FIXTURES } from './support/fixtures.ts';

const LLAMA = path.join(LOCAL_FIXTURES, 'tiny-llama');
const TASK = 'tweets.jsonl';
const TEMPLATE = 'Tweet text : {text} Label : ';
const rowsText =
  Array.from({ length: 24 }, (_, i) => JSON.stringify({ text: `my parcel is ${i % 2 ? 'late again' : 'here, thanks'} #${i}`, label: i % 2 ? 'complaint' : 'no complaint' })).join('\n') + '\n';

let service: EngineService;
let events: EngineEvent[];
let train: NodeService['train'];

beforeAll(async () => {
  ({ service, events, train } = await nodeService(LLAMA, 'tiny-llama'));
});
afterAll(() => closeDb());

function spec(label: string, o: { seed?: number; text?: string; name?: string; generation?: boolean } = {}): RunSpec {
  const rows = parseDataset(rowsText, 'tweets.jsonl');
  return {
    label,
    model: { kind: 'files', name: 'tiny-llama' },
    data: {
      name: o.name ?? TASK,
      rows: o.generation ? rows.map((r) => ({ prompt: r.text, completion: r.label })) : rows,
      testRows: null,
      mapping: o.generation ? { kind: 'generation', input: 'prompt', target: 'completion', template: '{prompt}' } : { kind: 'label', input: 'text', target: 'label', template: TEMPLATE },
    },
    prompt: { kind: 'TEXT', text: o.text ?? 'is this a complaint', numVirtualTokens: 4, seed: 5 },
    train: { ...DEFAULT_TRAIN_SPEC, epochs: 1, batchSize: 4, maxLength: null, seed: o.seed ?? 5, valSplit: 0.25, lr: 0.01, evalEvery: 2, maxSteps: 2 },
    method: null,
  };
}

/** The validation rows a run held out, as examples (the rows its suite is cut from). */
async function heldOut(runId: string): Promise<Example[]> {
  const run = await getRun(runId);
  const rows = parseDataset(rowsText, 'tweets.jsonl');
  return run!.split.validation.map((i) => ({ input: TEMPLATE.replace('{text}', rows[i].text), target: rows[i].label }));
}

const key = (e: Example) => `${e.input}\u0000${e.target}`;
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

let first: RunEnd;
let second: RunEnd;
let pinned: Suite;

describe('suites and versions in the tab', () => {
  it("pins the task's suite from the first run's held-out rows and scores that run's adapter as v1", async () => {
    expect(await service.listSuites()).toEqual([]);
    first = await train(spec('first', { seed: 1 }));
    expect(first.status).toBe('completed');
    const [info] = await service.listSuites();
    expect(info).toMatchObject({ task: TASK, rows: 6, source: '6 validation rows held out by run "first"' });
    expect(info.labels.sort()).toEqual(['complaint', 'no complaint']);
    pinned = (await getSuite(TASK))!;
    expect(pinned.hash).toBe(info.hash);
    // The suite is exactly the run's 6 validation rows (round-robin over the labels).
    const held = await heldOut(first.runId);
    expect(pinned.examples.map(key).sort()).toEqual(held.map(key).sort());
    expect(pinned.examples).toEqual(pickSuiteRows(held));
    // Seed 1 holds out rows 0, 3, 8, 18, 19 and 22: four "no complaint", two "complaint", taken in turn.
    expect(pinned.examples.map((e) => e.target)).toEqual(['no complaint', 'complaint', 'no complaint', 'complaint', 'no complaint', 'no complaint']);
    expect(new Set(pinned.examples.slice(0, 2).map((e) => e.target)).size).toBe(2);

    const a = await getAdapter(first.adapterId!);
    expect(a?.task).toBe(TASK);
    const score = a!.metrics.suite!;
    expect(score).toMatchObject({ suiteHash: pinned.hash, count: 6 });
    // The same accuracy as the Evaluate panel's on the run's validation rows.
    const ev = await service.evaluate({ set: { kind: 'run', runId: first.runId, part: 'validation', limit: null }, conditions: [{ kind: 'adapter', adapterId: a!.id }], labelTask: true });
    expect(score.accuracy).toBe(ev.results[0].labels!.accuracy);
    expect(score.loss).toBeCloseTo(ev.results[0].loss, 6);
    expect(first.message.endsWith(`; v1 of ${TASK}: ${pct(score.accuracy)} on its 6-row suite`)).toBe(true);
    expect(events.some((e) => e.type === 'task-progress' && e.task === `Scoring first on the ${TASK} suite` && e.done === 6 && e.total === 6)).toBe(true);
  });

  it('scores a second run of the task on the same suite (not re-pinned) as v2, with its change from v1', async () => {
    second = await train(spec('second', { seed: 11, text: 'the weather in spring' }));
    expect(second.status).toBe('completed');
    // Another seed holds out other rows, but the task keeps its suite.
    expect((await heldOut(second.runId)).map(key).sort()).not.toEqual((await heldOut(first.runId)).map(key).sort());
    expect((await getSuite(TASK))?.hash).toBe(pinned.hash);
    expect(await service.listSuites()).toHaveLength(1);

    const [a, b] = [await getAdapter(first.adapterId!), await getAdapter(second.adapterId!)];
    expect(b?.metrics.suite?.suiteHash).toBe(pinned.hash);
    const v = await service.taskVersions(TASK);
    expect(v).toMatchObject({ task: TASK, suite: { hash: pinned.hash, rows: 6 }, loadedRevision: null, unscored: 0 });
    expect(v.rows.map((r) => [r.version, r.id, r.name])).toEqual([
      [1, a!.id, 'first'],
      [2, b!.id, 'second'],
    ]);
    expect(v.rows.map((r) => r.accuracy)).toEqual([a!.metrics.suite!.accuracy, b!.metrics.suite!.accuracy]);
    expect(v.rows[0].delta).toBeNull();
    expect(v.rows[1].delta).toBeCloseTo((b!.metrics.suite!.accuracy - a!.metrics.suite!.accuracy) * 100, 9);
    expect(v.rows.map((r) => [r.stale, r.drift])).toEqual([
      [false, false],
      [false, false],
    ]);
    const d = v.rows[1].delta!;
    expect(second.message.endsWith(`; v2 of ${TASK}: ${pct(b!.metrics.suite!.accuracy)} on its 6-row suite (${d >= 0 ? '+' : ''}${d.toFixed(1)} pt${v.rows[1].dropped ? ', a drop' : ''})`)).toBe(true);
  });

  it('pins an uploaded suite file; the versions scored on the old one are stale until evaluated again', async () => {
    // Gold labels the first adapter gives on the suite's rows where they are short, so its accuracy is above 0.
    const ev = await service.evaluate({
      set: { kind: 'examples', name: 'probe', examples: pinned.examples.map((e) => ({ ...e, target: 'x' })), limit: null },
      conditions: [{ kind: 'adapter', adapterId: first.adapterId! }],
      labelTask: true,
    });
    const preds = ev.results[0].labels!.predictions.map((p) => p.predicted);
    const rows = pinned.examples.map((e, i) => ({ ...e, target: i < 5 && preds[i] && preds[i].length <= 1 && normalizeLabel(preds[i]) !== 'x' ? preds[i] : 'x' }));
    const upload = await makeSuite('named otherwise in the file', rows, 'curated by hand', 42);
    const info = await service.pinSuite({ task: TASK, from: { kind: 'file', name: 'curated.suite.json', text: serializeSuite(upload) } });
    expect(info).toMatchObject({ task: TASK, hash: upload.hash, source: 'curated by hand', createdAt: 42, rows: 6 });
    expect((await getSuite(TASK))?.examples).toEqual(rows);

    const before = await service.taskVersions(TASK);
    expect(before.rows.map((r) => [r.accuracy, r.stale, r.delta])).toEqual([
      [null, true, null],
      [null, true, null],
    ]);

    const progress = events.length;
    const sa = await service.evaluateVersion(first.adapterId!);
    expect(sa).toMatchObject({ suiteHash: upload.hash, count: 6 });
    expect(events.slice(progress).some((e) => e.type === 'task-progress' && e.total === 6)).toBe(true);
    const check = await service.evaluate({ set: { kind: 'examples', name: 'check', examples: rows, limit: null }, conditions: [{ kind: 'adapter', adapterId: first.adapterId! }], labelTask: true });
    const hits = check.results[0].labels!.predictions.filter((p) => normalizeLabel(p.predicted) === normalizeLabel(p.gold)).length;
    expect(sa.accuracy).toBe(hits / 6);
    expect((await getAdapter(first.adapterId!))?.metrics.suite).toEqual(sa);

    const mid = await service.taskVersions(TASK);
    expect(mid.rows.map((r) => [r.accuracy, r.stale])).toEqual([
      [sa.accuracy, false],
      [null, true],
    ]);
    const sb = await service.evaluateVersion(second.adapterId!);
    const after = await service.taskVersions(TASK);
    expect(after.rows.map((r) => r.accuracy)).toEqual([sa.accuracy, sb.accuracy]);
    expect(after.rows[1].delta).toBeCloseTo((sb.accuracy - sa.accuracy) * 100, 9);
    expect(after.rows[1].dropped).toBe((sb.accuracy - sa.accuracy) * 100 < -2 - 1e-9);
  });

  it('pins a CSV or JSONL of labelled rows, read with the template of the task', async () => {
    const csv = 'text,label\nwhere is my parcel,complaint\n"arrived, thanks",no complaint\nstill waiting,complaint\n';
    const info = await service.pinSuite({ task: TASK, from: { kind: 'file', name: 'held.csv', text: csv } });
    expect(info).toMatchObject({ task: TASK, rows: 3, source: '3 rows uploaded from held.csv', labels: ['complaint', 'no complaint'] });
    expect((await getSuite(TASK))?.examples).toEqual([
      { input: 'Tweet text : where is my parcel Label : ', target: 'complaint' },
      { input: 'Tweet text : arrived, thanks Label : ', target: 'no complaint' },
      { input: 'Tweet text : still waiting Label : ', target: 'complaint' },
    ]);
    const jsonl = [
      { text: 'lost again', label: 'complaint' },
      { text: 'lovely', label: 'no complaint' },
    ]
      .map((r) => JSON.stringify(r))
      .join('\n');
    const j = await service.pinSuite({ task: TASK, from: { kind: 'file', name: 'held.jsonl', text: jsonl } });
    expect(j).toMatchObject({ rows: 2, source: '2 rows uploaded from held.jsonl' });
    expect((await getSuite(TASK))?.examples[1]).toEqual({ input: 'Tweet text : lovely Label : ', target: 'no complaint' });
    expect(j.hash).not.toBe(info.hash);
    // A task no run trained yet reads the rows with the default label template.
    const fresh = await service.pinSuite({ task: 'new task', from: { kind: 'file', name: 'n.csv', text: 'text,label\nhi,yes\n' } });
    expect(fresh.task).toBe('new task');
    expect((await getSuite('new task'))?.examples).toEqual([{ input: 'Tweet text : hi Label : ', target: 'yes' }]);
    await service.unpinSuite('new task');
  });

  it('refuses a suite file of another format, and rows that are not labelled, with a clear error', async () => {
    const good = await makeSuite(TASK, [{ input: 'a', target: 'b' }], 'src', 1);
    const hashBefore = (await getSuite(TASK))!.hash;
    const pretty = serializeSuite({ ...good, format: 'some-other-tool/suite' as Suite['format'] });
    await expect(service.pinSuite({ task: TASK, from: { kind: 'file', name: 'old.suite.json', text: pretty } })).rejects.toThrow(
      /^old\.suite\.json: "format" must be "prompt-tuning-playground\/suite" \(got "some-other-tool\/suite"\)/,
    );
    const oneLine = JSON.stringify({ ...good, format: 'v0' });
    await expect(service.pinSuite({ task: TASK, from: { kind: 'file', name: 'one.json', text: oneLine } })).rejects.toThrow(/^one\.json: "format" must be/);
    const edited = JSON.parse(serializeSuite(good));
    edited.examples[0].target = 'c';
    await expect(service.pinSuite({ task: TASK, from: { kind: 'file', name: 'e.suite.json', text: JSON.stringify(edited) } })).rejects.toThrow(/^e\.suite\.json: its rows do not match its "hash"/);
    await expect(service.pinSuite({ task: TASK, from: { kind: 'file', name: 'gen.jsonl', text: '{"prompt": "p", "completion": "c"}\n' } })).rejects.toThrow(
      /^gen\.jsonl: a suite scores labels, so its rows need text and label columns \(found prompt, completion\)/,
    );
    await expect(service.pinSuite({ task: TASK, from: { kind: 'run', runId: 'no-such-run' } })).rejects.toThrow(/run no-such-run is not in this browser's storage/);
    // Nothing refused replaced the pinned suite.
    expect((await getSuite(TASK))?.hash).toBe(hashBefore);
  });

  it("pins from a run's held-out rows on request, up to a limit", async () => {
    const info = await service.pinSuite({ task: TASK, from: { kind: 'run', runId: second.runId, limit: 4 } });
    expect(info).toMatchObject({ task: TASK, rows: 4, source: '4 of the 6 validation rows held out by run "second"' });
    const held = new Set((await heldOut(second.runId)).map(key));
    const s = (await getSuite(TASK))!;
    expect(s.examples.every((e) => held.has(key(e)))).toBe(true);
    expect(new Set(s.examples.map((e) => e.target)).size).toBe(2);
  });

  it('downloads the suite as a file parseSuite reads back', async () => {
    const f = await service.suiteFile(TASK);
    expect(f.fileName).toBe('tweets.jsonl.suite.json');
    const back = await parseSuite(f.text, f.fileName);
    expect(back).toEqual(await getSuite(TASK));
    const odd = await service.pinSuite({ task: 'a task / with spaces', from: { kind: 'file', name: 'x.suite.json', text: f.text } });
    expect(odd.hash).toBe(back.hash);
    expect((await service.suiteFile('a task / with spaces')).fileName).toBe('a_task_with_spaces.suite.json');
    await service.unpinSuite('a task / with spaces');
  });

  it('moves an adapter to another task or to none', async () => {
    const b = second.adapterId!;
    await service.setAdapterTask(b, 'elsewhere');
    expect((await getAdapter(b))?.task).toBe('elsewhere');
    expect((await service.taskVersions(TASK)).rows.map((r) => r.id)).toEqual([first.adapterId]);
    expect(await service.taskVersions('elsewhere')).toMatchObject({ task: 'elsewhere', suite: null, rows: [], unscored: 1 });
    await expect(service.evaluateVersion(b)).rejects.toThrow('task "elsewhere" has no pinned suite');
    await service.setAdapterTask(b, null);
    expect((await service.listAdapters()).find((a) => a.id === b)?.task).toBeNull();
    await expect(service.evaluateVersion(b)).rejects.toThrow('adapter "second" belongs to no task: choose its task first');
    await service.setAdapterTask(b, TASK);
    expect((await service.taskVersions(TASK)).rows.map((r) => r.id)).toEqual([first.adapterId, b]);
  });

  it('unpins a suite; the next run of the task pins a new one from its own rows and is v3', async () => {
    await service.unpinSuite(TASK);
    expect(await service.listSuites()).toEqual([]);
    expect(await service.taskVersions(TASK)).toMatchObject({ suite: null, rows: [], unscored: 2 });
    await expect(service.suiteFile(TASK)).rejects.toThrow(`task "${TASK}" has no pinned suite`);
    const third = await train(spec('third', { seed: 23 }));
    const [info] = await service.listSuites();
    expect(info.source).toBe('6 validation rows held out by run "third"');
    const v = await service.taskVersions(TASK);
    expect(v.rows.map((r) => [r.version, r.name, r.stale])).toEqual([
      [1, 'first', true],
      [2, 'second', true],
      [3, 'third', false],
    ]);
    // Nothing earlier was scored on this suite: no change to report.
    expect(v.rows[2].delta).toBeNull();
    expect(third.message).toMatch(new RegExp(`; v3 of ${TASK.replace('.', '\\.')}: \\d+\\.\\d% on its 6-row suite$`));
  });

  it('a generation run pins no suite and adds nothing to its message', async () => {
    const before = await service.listSuites();
    const g = await train(spec('gen', { name: 'completions.jsonl', generation: true }));
    expect(g.status).toBe('completed');
    expect(g.message).not.toContain(' of completions.jsonl');
    expect(await service.listSuites()).toEqual(before);
    expect((await getAdapter(g.adapterId!))?.metrics.suite ?? null).toBeNull();
  });
});
