// Opening a database the previous schema (version 3) wrote, with data in it: the upgrade keeps
// every run, adapter, checkpoint and dataset, gives v3 runs the split they trained on and marks v3
// accuracies as measured on unrecorded rows.
import 'fake-indexeddb/auto';
import { openDB } from 'idb';
import { afterAll, describe, expect, it } from 'vitest';
import { splitIndices } from '../src/engine/data/batches.ts';
import { datasetHash } from '../src/engine/data/hash.ts';
import { DEFAULT_TRAIN_SPEC } from '../src/engine/run/spec.ts';
import { closeDb, DB_NAME, DB_VERSION, getAdapter, getCheckpoint, getDataset, getRun, listAdapters, listRuns } from '../src/store/db.ts';

const rows = Array.from({ length: 30 }, (_, i) => ({ text: `row ${i}`, label: i % 3 ? 'a' : 'b' }));
const testRows = [
  { text: 't0', label: 'a' },
  { text: 't1', label: 'b' },
];

/** What version 3 of the app wrote: its schema and records exactly as they were (no split, accuracy a number). */
async function writeV3(): Promise<{ datasetId: string }> {
  const datasetId = await datasetHash(rows, testRows);
  const d = await openDB(DB_NAME, 3, {
    upgrade(db) {
      db.createObjectStore('runs', { keyPath: 'id' }).createIndex('createdAt', 'createdAt');
      db.createObjectStore('checkpoints', { keyPath: 'runId' });
      db.createObjectStore('adapters', { keyPath: 'id' }).createIndex('createdAt', 'createdAt');
      db.createObjectStore('datasets', { keyPath: 'id' });
      db.createObjectStore('tensors', { keyPath: 'id' });
    },
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
    expect(DB_VERSION).toBe(4);
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
  });
});
