// IndexedDB through idb. The engine worker is its only user: the page lists, renames and deletes
// through the worker's commands, so there is one writer and one schema in play.
import { openDB, type DBSchema, type IDBPDatabase, type IDBPTransaction, type StoreNames } from 'idb';
import { splitIndices } from '../engine/data/batches.ts';
import { evalEveryFor } from '../engine/run/spec.ts';
import type { Suite } from '../engine/run/suite.ts';
import type { AdapterRecord, AdapterSummaryRecord, CheckpointRecord, DatasetRecord, RunRecord, RunSummaryRecord, TensorRecord } from './records.ts';

interface PlaygroundDB extends DBSchema {
  runs: { key: string; value: RunSummaryRecord; indexes: { createdAt: number } };
  checkpoints: { key: string; value: CheckpointRecord };
  adapters: { key: string; value: AdapterSummaryRecord; indexes: { createdAt: number } };
  datasets: { key: string; value: DatasetRecord };
  /** Run init prompts ('run:<id>') and adapter prompts ('adapter:<id>'), kept out of the listed records. */
  tensors: { key: string; value: TensorRecord };
  /** Each task's pinned evaluation suite, keyed by the task's name. */
  suites: { key: string; value: Suite };
}

export const DB_NAME = 'prompt-tuning-playground';
export const DB_VERSION = 5;

type UpgradeTx = IDBPTransaction<PlaygroundDB, StoreNames<PlaygroundDB>[], 'versionchange'>;

/** Version 3: the first released schema. */
function createV3(d: IDBPDatabase<PlaygroundDB>): void {
  d.createObjectStore('runs', { keyPath: 'id' }).createIndex('createdAt', 'createdAt');
  d.createObjectStore('checkpoints', { keyPath: 'runId' });
  d.createObjectStore('adapters', { keyPath: 'id' }).createIndex('createdAt', 'createdAt');
  d.createObjectStore('datasets', { keyPath: 'id' });
  d.createObjectStore('tensors', { keyPath: 'id' });
}

/**
 * Version 4: runs store their split (row ids + dataset hash) and validation cadence; an adapter's
 * accuracy names the rows it was measured on. A v3 run gets the split it trained on (the same
 * seeded split of its row count); a v3 accuracy is kept, marked as measured on unrecorded rows.
 */
async function migrateV3toV4(tx: UpgradeTx): Promise<void> {
  const datasets = tx.objectStore('datasets');
  for (let c = await tx.objectStore('runs').openCursor(); c; c = await c.continue()) {
    const run = c.value as RunSummaryRecord & { split?: RunRecord['split']; evalEvery?: number };
    if (run.split) continue;
    const { train, data } = run.spec;
    const dataset = await datasets.get(data.datasetId);
    const ids = splitIndices(dataset?.rows.length ?? data.rowCount, train.valSplit, train.seed);
    const testCount = dataset?.testRows?.length ?? data.testRowCount;
    run.split = { datasetHash: data.datasetId, train: ids.train, validation: ids.val, test: Array.from({ length: testCount }, (_, i) => i) };
    run.evalEvery = evalEveryFor(Math.ceil(ids.train.length / train.batchSize), train.evalEvery);
    await c.update(run);
  }
  for (let c = await tx.objectStore('adapters').openCursor(); c; c = await c.continue()) {
    const a = c.value;
    const old = a.metrics.accuracy as unknown;
    if (typeof old !== 'number') continue;
    a.metrics = { ...a.metrics, accuracy: { value: old, count: 0, rows: 'rows not recorded (measured before the playground stored splits)', heldOut: false, datasetHash: null } };
    await c.update(a);
  }
}

/**
 * Version 5: tasks pin evaluation suites (a new store) and an adapter names its task. A v4
 * adapter trained in a run still in storage gets that run's dataset name as its task.
 */
async function migrateV4toV5(d: IDBPDatabase<PlaygroundDB>, tx: UpgradeTx): Promise<void> {
  d.createObjectStore('suites', { keyPath: 'task' });
  const runs = tx.objectStore('runs');
  for (let c = await tx.objectStore('adapters').openCursor(); c; c = await c.continue()) {
    if (c.value.task !== undefined) continue;
    const run = c.value.runId ? await runs.get(c.value.runId) : undefined;
    await c.update({ ...c.value, task: run?.spec.data.name ?? null });
  }
}

let dbPromise: Promise<IDBPDatabase<PlaygroundDB>> | null = null;

export function db(): Promise<IDBPDatabase<PlaygroundDB>> {
  dbPromise ??= openDB<PlaygroundDB>(DB_NAME, DB_VERSION, {
    async upgrade(d, oldVersion, _newVersion, tx) {
      // Each step keeps every run, adapter, checkpoint and dataset. Versions 1 and 2 were
      // unreleased development schemas with no upgrade path: they are created afresh.
      if (oldVersion < 3) {
        for (const name of [...d.objectStoreNames]) d.deleteObjectStore(name);
        createV3(d);
      }
      if (oldVersion < 4) await migrateV3toV4(tx);
      if (oldVersion < 5) await migrateV4toV5(d, tx);
    },
    blocking() {
      // Another tab upgrades the schema: let it.
      void dbPromise?.then((d) => d.close());
      dbPromise = null;
    },
  });
  return dbPromise;
}

/** Closes the connection (tests open databases of several versions in one process). */
export async function closeDb(): Promise<void> {
  const p = dbPromise;
  dbPromise = null;
  if (p) (await p).close();
}

export function newId(): string {
  return crypto.randomUUID();
}

const runKey = (id: string) => `run:${id}`;
const adapterKey = (id: string) => `adapter:${id}`;

function splitRun(run: RunRecord): { summary: RunSummaryRecord; tensors: TensorRecord } {
  const { initPrompt, ...summary } = run;
  return { summary: { ...summary, updatedAt: Date.now() }, tensors: { id: runKey(run.id), values: initPrompt, init: null } };
}

function splitAdapter(adapter: AdapterRecord): { summary: AdapterSummaryRecord; tensors: TensorRecord } {
  const { prompt, initPrompt, ...summary } = adapter;
  return { summary, tensors: { id: adapterKey(adapter.id), values: prompt, init: initPrompt } };
}

// Runs
export async function putRun(run: RunRecord): Promise<void> {
  const { summary, tensors } = splitRun(run);
  const tx = (await db()).transaction(['runs', 'tensors'], 'readwrite');
  await Promise.all([tx.objectStore('runs').put(summary), tx.objectStore('tensors').put(tensors), tx.done]);
}
/** Updates a run's state and curves (its tensors do not change). */
export async function putRunState(run: RunSummaryRecord): Promise<void> {
  const { initPrompt: _, ...summary } = run as RunRecord;
  await (await db()).put('runs', { ...summary, updatedAt: Date.now() });
}
export async function getRun(id: string): Promise<RunRecord | undefined> {
  const d = await db();
  const [summary, tensors] = await Promise.all([d.get('runs', id), d.get('tensors', runKey(id))]);
  return summary && tensors ? { ...summary, initPrompt: tensors.values } : undefined;
}
export async function listRuns(): Promise<RunSummaryRecord[]> {
  return (await (await db()).getAllFromIndex('runs', 'createdAt')).reverse();
}
export async function deleteRun(id: string): Promise<void> {
  const d = await db();
  const tx = d.transaction(['runs', 'checkpoints', 'datasets', 'tensors'], 'readwrite');
  const runs = tx.objectStore('runs');
  const run = await runs.get(id);
  await runs.delete(id);
  await tx.objectStore('checkpoints').delete(id);
  await tx.objectStore('tensors').delete(runKey(id));
  // The dataset goes too unless another run still uses it.
  if (run && !(await runs.getAll()).some((r) => r.spec.data.datasetId === run.spec.data.datasetId)) await tx.objectStore('datasets').delete(run.spec.data.datasetId);
  await tx.done;
}

// Datasets
export async function putDataset(dataset: DatasetRecord): Promise<void> {
  await (await db()).put('datasets', dataset);
}
export async function getDataset(id: string): Promise<DatasetRecord | undefined> {
  return (await db()).get('datasets', id);
}

// Checkpoints: one per run (the latest); written together with the run's curves so both agree.
export async function putCheckpoint(checkpoint: CheckpointRecord, run: RunSummaryRecord): Promise<void> {
  const { initPrompt: _, ...summary } = run as RunRecord;
  const tx = (await db()).transaction(['runs', 'checkpoints'], 'readwrite');
  await Promise.all([tx.objectStore('checkpoints').put(checkpoint), tx.objectStore('runs').put({ ...summary, updatedAt: Date.now() }), tx.done]);
}
export async function getCheckpoint(runId: string): Promise<CheckpointRecord | undefined> {
  return (await db()).get('checkpoints', runId);
}

// Adapters
export async function putAdapter(adapter: AdapterRecord): Promise<void> {
  const { summary, tensors } = splitAdapter(adapter);
  const tx = (await db()).transaction(['adapters', 'tensors'], 'readwrite');
  await Promise.all([tx.objectStore('adapters').put(summary), tx.objectStore('tensors').put(tensors), tx.done]);
}
/** Saves a run's adapter and the run's final state in one transaction. */
export async function finishRun(run: RunSummaryRecord, adapter: AdapterRecord | null): Promise<void> {
  const { initPrompt: _, ...summary } = run as RunRecord;
  const tx = (await db()).transaction(['runs', 'adapters', 'checkpoints', 'tensors'], 'readwrite');
  const ops: Promise<unknown>[] = [tx.objectStore('runs').put({ ...summary, updatedAt: Date.now() })];
  if (adapter) {
    const split = splitAdapter(adapter);
    ops.push(tx.objectStore('adapters').put(split.summary), tx.objectStore('tensors').put(split.tensors));
    // The adapter now holds the trained prompt; the resume checkpoint is no longer needed.
    ops.push(tx.objectStore('checkpoints').delete(run.id));
  }
  await Promise.all([...ops, tx.done]);
}
export async function getAdapter(id: string): Promise<AdapterRecord | undefined> {
  const d = await db();
  const [summary, tensors] = await Promise.all([d.get('adapters', id), d.get('tensors', adapterKey(id))]);
  return summary && tensors ? { ...summary, prompt: tensors.values, initPrompt: tensors.init } : undefined;
}
export async function listAdapters(): Promise<AdapterSummaryRecord[]> {
  return (await (await db()).getAllFromIndex('adapters', 'createdAt')).reverse();
}
export async function deleteAdapter(id: string): Promise<void> {
  const tx = (await db()).transaction(['adapters', 'tensors'], 'readwrite');
  await Promise.all([tx.objectStore('adapters').delete(id), tx.objectStore('tensors').delete(adapterKey(id)), tx.done]);
}
export async function updateAdapter(id: string, change: { name?: string; task?: string | null; metrics?: Partial<AdapterRecord['metrics']> }): Promise<void> {
  const tx = (await db()).transaction('adapters', 'readwrite');
  const current = await tx.store.get(id);
  if (current) await tx.store.put({ ...current, ...change, metrics: { ...current.metrics, ...change.metrics } });
  await tx.done;
}

// Suites: one pinned per task; pinning another replaces it (adapters keep the scores they had, marked as on another suite).
export async function putSuite(suite: Suite): Promise<void> {
  await (await db()).put('suites', suite);
}
export async function getSuite(task: string): Promise<Suite | undefined> {
  return (await db()).get('suites', task);
}
export async function listSuites(): Promise<Suite[]> {
  return (await db()).getAll('suites');
}
export async function deleteSuite(task: string): Promise<void> {
  await (await db()).delete('suites', task);
}
