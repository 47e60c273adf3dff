// IndexedDB through idb, usable from the page and from the engine worker alike.
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { AdapterSummary } from '../worker/protocol.ts';
import type { AdapterRecord, CheckpointRecord, DatasetRecord, RunRecord } from './records.ts';

interface PlaygroundDB extends DBSchema {
  runs: { key: string; value: RunRecord; indexes: { createdAt: number } };
  checkpoints: { key: string; value: CheckpointRecord };
  adapters: { key: string; value: AdapterRecord; indexes: { createdAt: number } };
  datasets: { key: string; value: DatasetRecord };
}

export const DB_NAME = 'prompt-tuning-playground';
const DB_VERSION = 2;

let dbPromise: Promise<IDBPDatabase<PlaygroundDB>> | null = null;

export function db(): Promise<IDBPDatabase<PlaygroundDB>> {
  dbPromise ??= openDB<PlaygroundDB>(DB_NAME, DB_VERSION, {
    upgrade(d) {
      const has = (name: string) => d.objectStoreNames.contains(name as 'runs');
      if (!has('runs')) d.createObjectStore('runs', { keyPath: 'id' }).createIndex('createdAt', 'createdAt');
      if (!has('checkpoints')) d.createObjectStore('checkpoints', { keyPath: 'runId' });
      if (!has('adapters')) d.createObjectStore('adapters', { keyPath: 'id' }).createIndex('createdAt', 'createdAt');
      if (!has('datasets')) d.createObjectStore('datasets', { keyPath: 'id' });
    },
    blocking() {
      // Another tab upgrades the schema: let it.
      void dbPromise?.then((d) => d.close());
      dbPromise = null;
    },
  });
  return dbPromise;
}

export function newId(): string {
  return crypto.randomUUID();
}

// Runs
export async function putRun(run: RunRecord): Promise<void> {
  await (await db()).put('runs', { ...run, updatedAt: Date.now() });
}
export async function getRun(id: string): Promise<RunRecord | undefined> {
  return (await db()).get('runs', id);
}
export async function listRuns(): Promise<RunRecord[]> {
  return (await (await db()).getAllFromIndex('runs', 'createdAt')).reverse();
}
export async function deleteRun(id: string): Promise<void> {
  const d = await db();
  const tx = d.transaction(['runs', 'checkpoints', 'datasets'], 'readwrite');
  const runs = tx.objectStore('runs');
  const run = await runs.get(id);
  await runs.delete(id);
  await tx.objectStore('checkpoints').delete(id);
  // The dataset goes too unless another run or an adapter's run still uses it.
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

/** A content key for a dataset: the same rows are stored once. */
export async function datasetKey(rows: unknown, testRows: unknown): Promise<string> {
  const bytes = new TextEncoder().encode(JSON.stringify([rows, testRows]));
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest.slice(0, 16), (b) => b.toString(16).padStart(2, '0')).join('');
}

// Checkpoints: one per run (the latest); written together with the run's curves so both agree.
export async function putCheckpoint(checkpoint: CheckpointRecord, run: RunRecord): Promise<void> {
  const d = await db();
  const tx = d.transaction(['runs', 'checkpoints'], 'readwrite');
  await Promise.all([tx.objectStore('checkpoints').put(checkpoint), tx.objectStore('runs').put({ ...run, updatedAt: Date.now() }), tx.done]);
}
export async function getCheckpoint(runId: string): Promise<CheckpointRecord | undefined> {
  return (await db()).get('checkpoints', runId);
}

// Adapters
export async function putAdapter(adapter: AdapterRecord): Promise<void> {
  await (await db()).put('adapters', adapter);
}
/** Saves a run's adapter and the run's final state in one transaction. */
export async function finishRun(run: RunRecord, adapter: AdapterRecord | null): Promise<void> {
  const d = await db();
  const tx = d.transaction(['runs', 'adapters', 'checkpoints'], 'readwrite');
  const ops: Promise<unknown>[] = [tx.objectStore('runs').put({ ...run, updatedAt: Date.now() })];
  if (adapter) ops.push(tx.objectStore('adapters').put(adapter));
  // The adapter now holds the trained prompt; the resume checkpoint is no longer needed.
  if (adapter) ops.push(tx.objectStore('checkpoints').delete(run.id));
  await Promise.all([...ops, tx.done]);
}
export async function getAdapter(id: string): Promise<AdapterRecord | undefined> {
  return (await db()).get('adapters', id);
}
export async function listAdapters(): Promise<AdapterRecord[]> {
  return (await (await db()).getAllFromIndex('adapters', 'createdAt')).reverse();
}
export async function deleteAdapter(id: string): Promise<void> {
  await (await db()).delete('adapters', id);
}
export async function updateAdapter(id: string, change: Partial<Pick<AdapterRecord, 'name' | 'metrics'>>): Promise<void> {
  const d = await db();
  const tx = d.transaction('adapters', 'readwrite');
  const current = await tx.store.get(id);
  if (current) await tx.store.put({ ...current, ...change, metrics: { ...current.metrics, ...change.metrics } });
  await tx.done;
}

export function summaryOf(a: AdapterRecord): AdapterSummary {
  const { id, name, createdAt, source, runId, config, model, metrics } = a;
  return { id, name, createdAt, source, runId, config, model, metrics };
}
