// What IndexedDB keeps: runs (spec + curves), checkpoints (prompt + AdamW state), adapters.
import type { ColumnMapping } from '../engine/data/examples.ts';
import type { Row } from '../engine/data/parse.ts';
import type { AdapterSummary, BackendName, RunHistory, RunSpec, RunStatus } from '../worker/protocol.ts';

/** A dataset is stored once (keyed by a hash of its rows) and runs refer to it, so listing runs stays light. */
export interface DatasetRecord {
  id: string;
  name: string;
  rows: Row[];
  testRows: Row[] | null;
}

export interface StoredRunSpec extends Omit<RunSpec, 'data'> {
  data: { name: string; mapping: ColumnMapping; datasetId: string; rowCount: number; testRowCount: number };
}

export interface RunRecord {
  id: string;
  createdAt: number;
  updatedAt: number;
  spec: StoredRunSpec;
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
