// What IndexedDB keeps: runs (spec, split and curves), checkpoints (prompt + AdamW state), adapters
// and datasets, plus the small pure helpers every writer of these records uses. The worker is
// the only writer (src/store/db.ts); the page sees these types through the worker's commands.
import type { AdapterConfig } from '../engine/adapter/peft-config.ts';
import type { ColumnMapping } from '../engine/data/examples.ts';
import type { Row } from '../engine/data/parse.ts';
import type { ModelOrigin } from '../engine/load.ts';
import type { MethodConfig } from '../engine/methods/index.ts';
import type { MeasuredAccuracy, PromptSpec, RunSplit, TrainSpec } from '../engine/run/spec.ts';
import type { SuiteScore } from '../engine/run/suite.ts';
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
  /** The tuning method and its settings; null or absent (runs stored before methods): prompt tuning from `prompt`. */
  method?: MethodConfig | null;
}

/** What a finished run cost and reached, for the method comparison (absent on runs stored before it). */
export interface RunCost {
  /** Trainable values (the method's tensors; tuning.size). */
  trainableParams: number;
  /** Bytes of adapter_model.safetensors as exported. */
  adapterBytes: number;
  /** Mean seconds per step over the run. */
  stepSeconds: number | null;
  /** The largest tf.memory().numBytes seen after a step of the run. */
  peakBytes: number;
  /** The last validation loss (null: the run had no validation rows). */
  finalValLoss: number | null;
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
  /** The trainable values before training, flat in the method's order (prompt tuning: the soft prompt; drift is measured from it). */
  initPrompt: Float32Array;
  initIds: number[] | null;
  hiddenSize: number;
  adapterId: string | null;
  backend: BackendName;
  /** Step of the last checkpoint written, or 0. */
  checkpointStep: number;
  /** Set when the run ends with an adapter. */
  cost?: RunCost;
}

/** A run without its tensors: what lists and charts need (tensors live in their own store). */
export type RunSummaryRecord = Omit<RunRecord, 'initPrompt'>;

export interface CheckpointRecord {
  runId: string;
  step: number;
  savedAt: number;
  /** The trainable values, flat in the method's order. */
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
  /** Trainable values of the method (absent on adapters stored before methods). */
  trainableParams?: number | null;
  /** Its last score on its task's pinned suite (absent: never scored). */
  suite?: SuiteScore | null;
}

/** What an adapter record keeps besides its tensors (shown in the Adapters panel). */
export interface AdapterSummary {
  id: string;
  name: string;
  createdAt: number;
  source: 'trained' | 'imported' | 'checkpoint';
  runId: string | null;
  /**
   * Prompt tuning's PEFT config. For another method: its base model, revision, peft_type, width
   * and virtual tokens (0 for LoRA) in the same fields, the method itself in `method`.
   */
  config: AdapterConfig;
  /** The tuning method; absent (adapters stored before methods, P-tuning imported as its prompt): prompt tuning. */
  method?: MethodConfig;
  model: ModelOrigin;
  metrics: AdapterMetrics;
  /** The task it is a version of (a trained adapter: its run's dataset name); null: none (imported, until given one). */
  task?: string | null;
}

export interface AdapterRecord extends AdapterSummary {
  /** The trainable values, flat in the method's order (prompt tuning: row-major [V, H]). */
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
    Partial<Pick<AdapterRecord, 'runId' | 'task' | 'method' | 'initPrompt' | 'initIds' | 'lossCurve' | 'importedFrom' | 'warnings'>> & { metrics?: Partial<AdapterMetrics> },
): AdapterRecord {
  return {
    id: crypto.randomUUID(),
    createdAt: Date.now(),
    runId: null,
    task: null,
    initPrompt: null,
    initIds: null,
    lossCurve: { step: [], loss: [] },
    importedFrom: null,
    warnings: [],
    ...a,
    metrics: { ...NO_METRICS, ...a.metrics },
  };
}

/** The method of an adapter (prompt tuning when it names none). */
export function methodOfAdapter(a: Pick<AdapterSummary, 'method' | 'config'>): MethodConfig {
  return a.method ?? { method: 'prompt', numVirtualTokens: a.config.numVirtualTokens, init: a.config.init, initText: a.config.initText };
}

export function summaryOf(a: AdapterSummaryRecord): AdapterSummary {
  const { id, name, createdAt, source, runId, config, method, model, metrics, task } = a;
  return { id, name, createdAt, source, runId, config, ...(method ? { method } : {}), model, metrics, task: task ?? null };
}
