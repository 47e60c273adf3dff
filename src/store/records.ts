// What IndexedDB keeps: runs (spec, split and curves), checkpoints (prompt + AdamW state), adapters
// and datasets, plus the small pure helpers every writer of these records uses. The worker is
// the only writer (src/store/db.ts); the page sees these types through the worker's commands.
import type { AdapterConfig } from '../engine/adapter/peft-config.ts';
import type { ColumnMapping } from '../engine/data/examples.ts';
import type { Row } from '../engine/data/parse.ts';
import type { ModelOrigin } from '../engine/load.ts';
import type { MeasuredAccuracy, PromptSpec, RunSplit, TrainSpec } from '../engine/run/spec.ts';
import type { StopReason } from '../engine/train/trainer.ts';

export type BackendName = 'webgpu' | 'wasm' | 'cpu';

/** A model reference that survives a reload (a local folder must be picked again). */
export type ModelRef = { kind: 'embedded'; name: string; url: string } | { kind: 'hub'; ref: string; endpoint: string } | { kind: 'files'; name: string };

/** The one "is this the model the run was trained on" rule (the worker's checks and the recovery banner). */
export function sameModel(a: ModelRef, b: ModelRef): boolean {
  if (a.kind === 'hub') return b.kind === 'hub' && a.ref === b.ref && a.endpoint === b.endpoint;
  return b.kind !== 'hub' && a.kind === b.kind && a.name === b.name;
}

export function describeRef(ref: ModelRef): string {
  return ref.kind === 'hub' ? `Hub model ${ref.ref}` : ref.kind === 'embedded' ? `the built-in model ${ref.name}` : `local folder ${ref.name}`;
}

export interface RunHistory {
  step: number[];
  loss: number[];
  lr: number[];
  tokensPerSecond: number[];
  /** Wall-clock seconds since the run began, per step (for the ETA). */
  time: number[];
  evalStep: number[];
  valLoss: number[];
}

export function emptyHistory(): RunHistory {
  return { step: [], loss: [], lr: [], tokensPerSecond: [], time: [], evalStep: [], valLoss: [] };
}

export function cloneHistory(h: RunHistory): RunHistory {
  return { step: [...h.step], loss: [...h.loss], lr: [...h.lr], tokensPerSecond: [...h.tokensPerSecond], time: [...h.time], evalStep: [...h.evalStep], valLoss: [...h.valLoss] };
}

/** The history up to and including `step` (a run resumed from a checkpoint forgets what came after). */
export function historyUpTo(h: RunHistory, step: number): RunHistory {
  const n = h.step.filter((s) => s <= step).length;
  const e = h.evalStep.filter((s) => s <= step).length;
  return {
    step: h.step.slice(0, n),
    loss: h.loss.slice(0, n),
    lr: h.lr.slice(0, n),
    tokensPerSecond: h.tokensPerSecond.slice(0, n),
    time: h.time.slice(0, n),
    evalStep: h.evalStep.slice(0, e),
    valLoss: h.valLoss.slice(0, e),
  };
}

export type RunStatus = 'running' | 'paused' | 'completed' | 'stopped' | 'interrupted' | 'failed';

/** A dataset is stored once (keyed by the hash of its rows) and runs refer to it, so listing runs stays light. */
export interface DatasetRecord {
  id: string;
  name: string;
  rows: Row[];
  testRows: Row[] | null;
}

export interface StoredRunSpec {
  label: string;
  model: ModelRef;
  data: { name: string; mapping: ColumnMapping; datasetId: string; rowCount: number; testRowCount: number };
  prompt: PromptSpec;
  train: TrainSpec;
}

export interface RunRecord {
  id: string;
  createdAt: number;
  updatedAt: number;
  spec: StoredRunSpec;
  /** The rows it trains, validates and is tested on (evaluation reads these, never a fresh split). */
  split: RunSplit;
  /** The validation cadence it ran with (steps). */
  evalEvery: number;
  status: RunStatus;
  /** Why the run ended or stopped (shown on recovery). */
  statusMessage: string;
  totalSteps: number;
  stepsDone: number;
  history: RunHistory;
  /** The soft prompt before training (drift is measured from it). */
  initPrompt: Float32Array;
  initIds: number[] | null;
  hiddenSize: number;
  adapterId: string | null;
  backend: BackendName;
  /** Step of the last checkpoint written, or 0. */
  checkpointStep: number;
}

/** A run without its tensors: what lists and charts need (tensors live in their own store). */
export type RunSummaryRecord = Omit<RunRecord, 'initPrompt'>;

export interface CheckpointRecord {
  runId: string;
  step: number;
  savedAt: number;
  prompt: Float32Array;
  optimizer: { step: number; m: Float32Array; v: Float32Array };
  bestValLoss: number | null;
  bestPrompt: Float32Array | null;
  evalsSinceBest: number;
}

export interface AdapterMetrics {
  steps: number | null;
  finalLoss: number | null;
  bestValLoss: number | null;
  stopReason: StopReason | null;
  /** The accuracy of the last evaluation with this adapter, and the rows it was measured on. */
  accuracy: MeasuredAccuracy | null;
  backend: BackendName | null;
  stepSeconds: number | null;
}

/** What an adapter record keeps besides its tensors (shown in the Adapters panel). */
export interface AdapterSummary {
  id: string;
  name: string;
  createdAt: number;
  source: 'trained' | 'imported' | 'checkpoint';
  runId: string | null;
  config: AdapterConfig;
  model: ModelOrigin;
  metrics: AdapterMetrics;
}

export interface AdapterRecord extends AdapterSummary {
  /** Row-major [V, H]. */
  prompt: Float32Array;
  initPrompt: Float32Array | null;
  /** Vocabulary ids the prompt started from (TEXT / SAMPLE_VOCAB), for the Inspect panel. */
  initIds: number[] | null;
  lossCurve: { step: number[]; loss: number[] };
  /** For imported adapters: the file names they came from. */
  importedFrom: string[] | null;
  warnings: string[];
}

/** An adapter without its tensors (listing adapters then reads no prompt values). */
export type AdapterSummaryRecord = Omit<AdapterRecord, 'prompt' | 'initPrompt'>;

/** The tensors of a run or an adapter, stored apart from the record. */
export interface TensorRecord {
  id: string;
  values: Float32Array;
  init: Float32Array | null;
}

export const NO_METRICS: AdapterMetrics = { steps: null, finalLoss: null, bestValLoss: null, stopReason: null, accuracy: null, backend: null, stepSeconds: null };

/** The one way an adapter record is made (trained, kept from a checkpoint, or imported). */
export function newAdapterRecord(
  a: Pick<AdapterRecord, 'name' | 'source' | 'config' | 'model' | 'prompt'> &
    Partial<Pick<AdapterRecord, 'runId' | 'initPrompt' | 'initIds' | 'lossCurve' | 'importedFrom' | 'warnings'>> & { metrics?: Partial<AdapterMetrics> },
): AdapterRecord {
  return {
    id: crypto.randomUUID(),
    createdAt: Date.now(),
    runId: null,
    initPrompt: null,
    initIds: null,
    lossCurve: { step: [], loss: [] },
    importedFrom: null,
    warnings: [],
    ...a,
    metrics: { ...NO_METRICS, ...a.metrics },
  };
}

export function summaryOf(a: AdapterSummaryRecord): AdapterSummary {
  const { id, name, createdAt, source, runId, config, model, metrics } = a;
  return { id, name, createdAt, source, runId, config, model, metrics };
}
