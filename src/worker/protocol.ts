// What the UI and the engine worker say to each other. Types only (plus tiny constants): the UI
// imports this file, never tfjs.
import type { AdapterConfig } from '../engine/adapter/peft-config.ts';
import type { LengthStats } from '../engine/data/encode.ts';
import type { ColumnMapping, Example } from '../engine/data/examples.ts';
import type { Row } from '../engine/data/parse.ts';
import type { LabelEvaluation } from '../engine/evaluate.ts';
import type { InspectResult } from '../engine/inspect.ts';
import type { ModelOrigin } from '../engine/load.ts';
import type { InitKind } from '../engine/prompt/init.ts';
import type { StopReason } from '../engine/train/trainer.ts';

export type BackendName = 'webgpu' | 'wasm' | 'cpu';

export interface GpuAdapterFacts {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A software implementation (SwiftShader, WARP...): works, but runs on the CPU. */
  isFallback: boolean;
}

export interface BackendInfo {
  name: BackendName;
  /** What was asked for, when the worker had to fall back to something else. */
  requested: BackendName;
  adapter: GpuAdapterFacts | null;
  /** WASM threads (1 when the page is not cross-origin isolated). */
  threads: number | null;
  crossOriginIsolated: boolean;
  /** Why the requested backend was not used, or what to know about the one in use. */
  notes: string[];
}

/** Where to load a model from. */
export type ModelSpec =
  | { kind: 'embedded'; name: string; url: string }
  | { kind: 'hub'; ref: string; endpoint: string; token?: string }
  | { kind: 'files'; name: string; files: { path: string; file: File }[] };

/** A model reference that survives a reload (a local folder must be picked again). */
export type ModelRef =
  | { kind: 'embedded'; name: string; url: string }
  | { kind: 'hub'; ref: string; endpoint: string }
  | { kind: 'files'; name: string };

export interface ModelInfo {
  ref: ModelRef;
  origin: ModelOrigin;
  family: string;
  modelType: string;
  architecture: string | null;
  parameterCount: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  vocabSize: number;
  contextLength: number;
  /** float32 bytes of all weights as held by the backend. */
  weightBytes: number;
  eosTokenId: number;
  padTokenId: number;
  /** Mean L2 norm of the token embedding rows: the scale a soft prompt should live at. */
  embeddingNorm: number;
  /** Bytes read from the network (0 when every file came from the cache). */
  downloadedBytes: number;
  cachedBytes: number;
  /** Files of this load the browser cache could not keep, each with the reason (quota, no Cache Storage, ...). */
  cacheProblems: { file: string; reason: 'unavailable' | 'quota' | 'failed'; message: string }[];
  loadSeconds: number;
}

export interface LoadProgress {
  file: string;
  loaded: number;
  total: number | null;
  /** From the cache (no network). */
  cached: boolean;
}

/** One token for display: id, its vocabulary string, and its role in a training example. */
export interface TokenView {
  id: number;
  text: string;
  /** 'input': conditioned on, no loss; 'target': loss is taken; 'eos': the end token (loss too). */
  role?: 'input' | 'target' | 'eos' | 'special';
}

export interface ExamplePreview {
  tokens: TokenView[];
  inputTokens: number;
  targetTokens: number;
  truncated: boolean;
  /** Tokens dropped from the start of the input by truncation. */
  dropped: number;
}

export interface InitTextPreview {
  /** The init text's own tokens. */
  textTokens: TokenView[];
  /** The V ids the prompt starts from (cut or repeated). */
  promptTokens: TokenView[];
  mode: 'exact' | 'cut' | 'repeated';
}

export interface DataStatsRequest {
  examples: Example[];
  numVirtualTokens: number;
  maxLength: number | null;
  batchSize: number;
  epochs: number;
  valSplit: number;
  seed: number;
}

export interface DataStats {
  trainCount: number;
  valCount: number;
  stepsPerEpoch: number;
  totalSteps: number;
  maxLength: number;
  train: LengthStats;
  val: LengthStats;
}

export interface DatasetSpec {
  /** Shown in the UI and written into exports ("complaint (built-in)", "my.csv"). */
  name: string;
  rows: Row[];
  mapping: ColumnMapping;
  /** Held-out rows for evaluation (built-in test split), if any. */
  testRows: Row[] | null;
}

export interface PromptSpec {
  kind: InitKind;
  text: string | null;
  numVirtualTokens: number;
  seed: number;
}

export interface TrainSpec {
  lr: number;
  epochs: number;
  batchSize: number;
  maxLength: number | null;
  warmupSteps: number;
  seed: number;
  patience: number;
  valSplit: number;
  weightDecay: number;
  /** Evaluate every N steps (null: every epoch). */
  evalEvery: number | null;
  /** Stop after this many steps (null: all epochs). */
  maxSteps: number | null;
}

export const DEFAULT_TRAIN_SPEC: TrainSpec = {
  lr: 3e-2,
  epochs: 3,
  batchSize: 8,
  maxLength: 64,
  warmupSteps: 0,
  seed: 42,
  patience: 0,
  valSplit: 0.1,
  weightDecay: 0.01,
  evalEvery: null,
  maxSteps: null,
};

/** Every step a checkpoint (prompt + AdamW moments) is written to IndexedDB. */
export const CHECKPOINT_EVERY = 5;

export interface RunSpec {
  label: string;
  model: ModelRef;
  data: DatasetSpec;
  prompt: PromptSpec;
  train: TrainSpec;
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

export type RunStatus = 'running' | 'paused' | 'completed' | 'stopped' | 'interrupted' | 'failed';

export interface RunStarted {
  runId: string;
  totalSteps: number;
  stepsPerEpoch: number;
  startStep: number;
  history: RunHistory;
  warnings: string[];
}

export interface RunEnd {
  runId: string;
  status: RunStatus;
  stopReason: StopReason | null;
  message: string;
  adapterId: string | null;
  steps: number;
}

export type EngineEvent =
  | { type: 'load-progress'; progress: LoadProgress }
  | { type: 'step'; runId: string; step: number; epoch: number; loss: number; lr: number; tokensPerSecond: number; seconds: number; numTensors: number; numBytes: number }
  | { type: 'eval'; runId: string; step: number; valLoss: number; bestValLoss: number; improved: boolean }
  | { type: 'checkpoint'; runId: string; step: number; savedAt: number }
  | { type: 'run-state'; runId: string; status: RunStatus }
  | { type: 'run-end'; end: RunEnd }
  | { type: 'task-progress'; task: string; done: number; total: number }
  | { type: 'device-lost'; message: string }
  | { type: 'warning'; message: string };

export interface EvaluateRequest {
  examples: Example[];
  /** Which conditions to score. */
  conditions: EvalCondition[];
}

export type EvalCondition =
  | { kind: 'none' }
  | { kind: 'text'; text: string }
  | { kind: 'adapter'; adapterId: string };

export interface EvalResult {
  condition: EvalCondition;
  label: string;
  loss: number;
  labels: LabelEvaluation;
  seconds: number;
}

export interface GenerateRequest {
  input: string;
  adapterId: string | null;
  maxNewTokens: number;
  greedy: boolean;
  temperature: number;
  seed: number;
}

export interface GenerateResult {
  withPrompt: string | null;
  without: string;
  withTokens: number;
  withoutTokens: number;
  seconds: number;
}

export type { InspectResult };

export interface ImportedAdapter {
  adapterId: string;
  warnings: string[];
}

export interface ExportedAdapter {
  /** The PEFT folder plus train_peft.py and the dataset, by file name. */
  files: Record<string, Uint8Array>;
  zip: Uint8Array;
  folderName: string;
}

/** What an adapter record keeps besides its tensor (shown in the Adapters panel). */
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

export interface AdapterMetrics {
  steps: number | null;
  finalLoss: number | null;
  bestValLoss: number | null;
  stopReason: StopReason | null;
  /** Held-out accuracy of the last evaluation with this adapter. */
  accuracy: number | null;
  backend: BackendName | null;
  stepSeconds: number | null;
}
