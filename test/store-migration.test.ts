// Opening a database an earlier schema (version 3 or 4) wrote, with data in it: the upgrade keeps
// every run, adapter, checkpoint and dataset, gives v3 runs the split they trained on and marks v3
// accuracies as measured on unrecorded rows; version 5 adds the suites store and gives each
// adapter its run's task.
import 'fake-indexeddb/auto';
import { deleteDB, openDB, type IDBPDatabase } from 'idb';
import { afterAll, describe, expect, it } from 'vitest';
import { splitIndices } from '../src/engine/data/batches.ts';
import { datasetHash } from '../src/engine/data/hash.ts';
import { DEFAULT_TRAIN_SPEC } from '../src/engine/run/spec.ts';
import { makeSuite } from '../src/engine/run/suite.ts';
import { closeDb, DB_NAME, DB_VERSION, deleteSuite, getAdapter, getCheckpoint, getDataset, getRun, getSuite, listAdapters, listRuns, listSuites, putSuite, updateAdapter } from '../src/store/db.ts';
import { summaryOf } from '../src/store/records.ts';

const rows = Array.from({ length: 30 }, (_, i) => ({ text: `row ${i}`, label: i % 3 ? 'a' : 'b' }));
const testRows = [
  { text: 't0', label: 'a' },
  { text: 't1', label: 'b' },
];

/** The stores versions 3 and 4 had, as they created them. */
function createV3Stores(db: IDBPDatabase): void {
  db.createObjectStore('runs', { keyPath: 'id' }).createIndex('createdAt', 'createdAt');
  db.createObjectStore('checkpoints', { keyPath: 'runId' });
  db.createObjectStore('adapters', { keyPath: 'id' }).createIndex('createdAt', 'createdAt');
  db.createObjectStore('datasets', { keyPath: 'id' });
  db.createObjectStore('tensors', { keyPath: 'id' });
}

/** What version 3 of the app wrote: its schema and records exactly as they were (no split, accuracy a number). */
async function writeV3(): Promise<{ datasetId: string }> {
  const datasetId = await datasetHash(rows, testRows);
  const d = await openDB(DB_NAME, 3, {
    upgrade: createV3Stores,
  });
  const train = { ...DEFAULT_TRAIN_SPEC, seed: 7, valSplit: 0.2, batchSize: 4, evalEvery: null };
  const spec = {
    label: 'old run',
    model: { kind: 'embedded', name: 'playground-demo', url: '/models/playground-demo/' },
    data: { name: 'complaint', mapping: { kind: 'label', input: 'text', target: 'label', template: '{text}' }, datasetId, rowCount: 30, testRowCount: 2 },
    prompt: { kind: 'TEXT', text: 'x', numVirtualTokens: 2, seed: 7 },
    train,
  };
  const history = { step: [1, 2], loss: [2, 1.5], lr: [0.03, 0.03], tokensPerSecond: [10, 10], time: [0.1, 0.2], evalStep: [], valLoss: [] };
  await d.put('datasets', { id: datasetId, name: 'complaint', rows, testRows });
  await d.put('runs', {
    id: 'r1',
    createdAt: 1,
    updatedAt: 2,
    spec,
    status: 'interrupted',
    statusMessage: 'tab closed',
    totalSteps: 10,
    stepsDone: 2,
    history,
    initIds: [5, 6],
    hiddenSize: 4,
    adapterId: null,
    backend: 'wasm',
    checkpointStep: 2,
  });
  await d.put('tensors', { id: 'run:r1', values: new Float32Array(8).fill(0.5), init: null });
  await d.put('checkpoints', {
    runId: 'r1',
    step: 2,
    savedAt: 3,
    prompt: new Float32Array(8).fill(0.25),
    optimizer: { step: 2, m: new Float32Array(8), v: new Float32Array(8) },
    bestValLoss: null,
    bestPrompt: null,
    evalsSinceBest: 0,
  });
  const metrics = { steps: 10, finalLoss: 0.5, bestValLoss: 0.6, stopReason: 'completed', accuracy: 0.75, backend: 'wasm', stepSeconds: 0.1 };
  const config = {
    numVirtualTokens: 2,
    tokenDim: 4,
    init: 'TEXT',
    initText: 'x',
    baseModel: 'playground-demo',
    revision: null,
    tokenizerName: 'playground-demo',
    numLayers: 1,
    numAttentionHeads: 1,
    peftType: 'PROMPT_TUNING',
  };
  await d.put('adapters', {
    id: 'a1',
    name: 'old adapter',
    createdAt: 5,
    source: 'trained',
    runId: 'r0',
    config,
    model: { kind: 'folder', id: 'playground-demo', revision: null, commit: null },
    metrics,
    initIds: null,
    lossCurve: { step: [1], loss: [1] },
    importedFrom: null,
    warnings: [],
  });
  await d.put('tensors', { id: 'adapter:a1', values: new Float32Array(8).fill(1), init: null });
  d.close();
  return { datasetId };
}

afterAll(() => closeDb());

describe('IndexedDB migrations', () => {
  it('opens a version 3 database with data in it and keeps everything', async () => {
    expect(DB_VERSION).toBe(5);
    const { datasetId } = await writeV3();
    const runs = await listRuns();
    expect(runs.map((r) => r.id)).toEqual(['r1']);
    const run = await getRun('r1');
    expect(run?.initPrompt).toEqual(new Float32Array(8).fill(0.5));
    expect(run?.history.loss).toEqual([2, 1.5]);
    // The split the v3 run trained on: the seeded split of its 30 rows, and both test rows.
    const ids = splitIndices(30, 0.2, 7);
    expect(run?.split).toEqual({ datasetHash: datasetId, train: ids.train, validation: ids.val, test: [0, 1] });
    expect(run?.split.validation).toHaveLength(6);
    expect(run?.evalEvery).toBe(3); // 24 training rows / 4 = 6 steps per epoch, twice per epoch
    expect((await getCheckpoint('r1'))?.prompt).toEqual(new Float32Array(8).fill(0.25));
    expect((await getDataset(datasetId))?.rows).toHaveLength(30);
    const [a] = await listAdapters();
    expect(a.metrics.accuracy).toMatchObject({ value: 0.75, heldOut: false, datasetHash: null });
    expect(a.metrics.accuracy?.rows).toMatch(/not recorded/);
    expect((await getAdapter('a1'))?.prompt).toEqual(new Float32Array(8).fill(1));
    // Its run ('r0') is not in storage: the adapter belongs to no task.
    expect(a.task).toBeNull();
    expect(await listSuites()).toEqual([]);
  });

  it("opens a version 4 database: adapters get their run's task, and the suites store works", async () => {
    await closeDb();
    await deleteDB(DB_NAME);
    await writeV4();
    const adapters = await listAdapters();
    expect(adapters.map((a) => a.id).sort()).toEqual(['trained', 'imported', 'orphan'].sort());
    const byId = Object.fromEntries(adapters.map((a) => [a.id, a]));
    expect(byId.trained.task).toBe('complaints-v4');
    expect(byId.imported.task).toBeNull();
    expect(byId.orphan.task).toBeNull();
    expect('task' in byId.imported).toBe(true);
    // Everything else of the v4 records is kept as it was.
    const trained = await getAdapter('trained');
    expect(trained?.prompt).toEqual(new Float32Array(4).fill(2));
    expect(trained?.metrics.accuracy).toMatchObject({ value: 0.5, count: 4, heldOut: true });
    expect(summaryOf(trained!).task).toBe('complaints-v4');
    const run = await getRun('r4');
    expect(run?.split.validation).toEqual([0, 1]);
    expect(run?.evalEvery).toBe(2);

    // The suites store: keyed by task, one per task, replaced by pinning another.
    const suite = await makeSuite('complaints-v4', [{ input: 'a', target: 'b' }], 'by hand', 10);
    await putSuite(suite);
    expect(await getSuite('complaints-v4')).toEqual(suite);
    const other = await makeSuite('complaints-v4', [{ input: 'c', target: 'd' }], 'again', 11);
    await putSuite(other);
    expect(await listSuites()).toEqual([other]);
    await putSuite(await makeSuite('other task', [{ input: 'e', target: 'f' }], 'x', 12));
    expect((await listSuites()).map((s) => s.task).sort()).toEqual(['complaints-v4', 'other task']);
    await deleteSuite('complaints-v4');
    expect(await getSuite('complaints-v4')).toBeUndefined();
    expect((await listSuites()).map((s) => s.task)).toEqual(['other task']);

    // The task can be set and cleared afterwards.
    await updateAdapter('imported', { task: 'complaints-v4' });
    expect((await getAdapter('imported'))?.task).toBe('complaints-v4');
    await updateAdapter('trained', { task: null });
    expect((await getAdapter('trained'))?.task).toBeNull();
    expect((await getAdapter('trained'))?.metrics.accuracy).toMatchObject({ value: 0.5 });
  });
});

/** What version 4 wrote: the v3 stores; runs with their split, adapters with no task. */
async function writeV4(): Promise<void> {
  const datasetId = await datasetHash(rows, null);
  const d = await openDB(DB_NAME, 4, {
    upgrade: createV3Stores,
  });
  expect([...d.objectStoreNames]).not.toContain('suites');
  const train = { ...DEFAULT_TRAIN_SPEC, seed: 3, valSplit: 0.1, batchSize: 4, evalEvery: null };
  const spec = {
    label: 'v4 run',
    model: { kind: 'embedded', name: 'playground-demo', url: '/models/playground-demo/' },
    data: { name: 'complaints-v4', mapping: { kind: 'label', input: 'text', target: 'label', template: '{text}' }, datasetId, rowCount: 30, testRowCount: 0 },
    prompt: { kind: 'TEXT', text: 'x', numVirtualTokens: 2, seed: 3 },
    train,
    method: null,
  };
  const history = { step: [1], loss: [2], lr: [0.03], tokensPerSecond: [10], time: [0.1], evalStep: [], valLoss: [] };
  await d.put('datasets', { id: datasetId, name: 'complaints-v4', rows, testRows: null });
  await d.put('runs', {
    id: 'r4',
    createdAt: 1,
    updatedAt: 2,
    spec,
    status: 'completed',
    statusMessage: 'done',
    totalSteps: 7,
    stepsDone: 7,
    history,
    initIds: [5, 6],
    hiddenSize: 2,
    adapterId: 'trained',
    backend: 'wasm',
    checkpointStep: null,
    split: { datasetHash: datasetId, train: Array.from({ length: 28 }, (_, i) => i + 2), validation: [0, 1], test: [] },
    evalEvery: 2,
  });
  await d.put('tensors', { id: 'run:r4', values: new Float32Array(4), init: null });
  const config = {
    numVirtualTokens: 2,
    tokenDim: 2,
    init: 'TEXT',
    initText: 'x',
    baseModel: 'playground-demo',
    revision: null,
    tokenizerName: 'playground-demo',
    numLayers: 1,
    numAttentionHeads: 1,
    peftType: 'PROMPT_TUNING',
  };
  const accuracy = { value: 0.5, count: 4, rows: 'the 2 validation rows', heldOut: true, datasetHash: datasetId };
  const adapter = (id: string, runId: string | null, source: string) => ({
    id,
    name: id,
    createdAt: 5,
    source,
    runId,
    config,
    model: { kind: 'folder', id: 'playground-demo', revision: null, commit: null },
    metrics: { steps: 7, finalLoss: 0.5, bestValLoss: 0.6, stopReason: 'completed', accuracy, backend: 'wasm', stepSeconds: 0.1 },
    initIds: null,
    lossCurve: { step: [1], loss: [1] },
    importedFrom: null,
    warnings: [],
  });
  for (const [id, runId, source] of [
    ['trained', 'r4', 'trained'],
    ['imported', null, 'imported'],
    ['orphan', 'deleted-run', 'trained'],
  ] as const) {
    await d.put('adapters', adapter(id, runId, source));
    await d.put('tensors', { id: `adapter:${id}`, values: new Float32Array(4).fill(2), init: null });
  }
  d.close();
}
