// What the UI and the engine worker say to each other: the commands the worker implements
// (EngineCommands; the page calls nothing else) and the events it sends. Types only (plus tiny
// constants): the UI imports this file, never tfjs.
import type { ColumnMapping, Example } from '../engine/data/examples.ts';
import type { Row } from '../engine/data/parse.ts';
import type { LabelEvaluation } from '../engine/evaluate.ts';
import type { InspectResult } from '../engine/inspect.ts';
import type { ModelOrigin } from '../engine/load.ts';
import type { MethodConfig } from '../engine/methods/index.ts';
import type { SplitPart } from '../engine/run/evaluate.ts';
import type { RunStats } from '../engine/run/plan.ts';
import type { PromptSpec, TrainSpec } from '../engine/run/spec.ts';
import type { SuiteScore, VersionRow } from '../engine/run/suite.ts';
import type { StopReason } from '../engine/train/trainer.ts';
import type { CacheSummary } from './file-cache.ts';
import type { AdapterSummary, BackendName, ModelRef, RunHistory, RunStatus, RunSummaryRecord } from '../store/records.ts';

export type { AdapterMetrics, AdapterSummary, BackendName, ModelRef, RunCost, RunHistory, RunStatus, RunSummaryRecord } from '../store/records.ts';
export { emptyHistory, methodOfAdapter } from '../store/records.ts';
export type { MeasuredAccuracy, PromptSpec, TrainSpec } from '../engine/run/spec.ts';
export { DEFAULT_LR, DEFAULT_METHODS, DEFAULT_PROMPT_SPEC, DEFAULT_TRAIN_SPEC } from '../engine/run/spec.ts';
export type { MethodConfig, MethodName } from '../engine/methods/index.ts';
export type { SuiteScore, VersionRow } from '../engine/run/suite.ts';
export { DEFAULT_SUITE_ROWS, DROP_POINTS } from '../engine/run/suite.ts';

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
  { kind: 'embedded'; name: string; url: string } | { kind: 'hub'; ref: string; endpoint: string; token?: string } | { kind: 'files'; name: string; files: { path: string; file: File }[] };

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

/**
 * What the data panel's numbers are computed from: the data, prompt and settings a run would start
 * with, planned as startRun plans them (planRun), so the split and the steps shown are the run's.
 */
export type DataStatsRequest = Pick<RunSpec, 'data' | 'prompt' | 'train' | 'method'>;

/**
 * The plan's numbers (runStats). totalSteps counts all epochs: the page applies the step limit
 * itself, since changing it asks for no new stats.
 */
export type DataStats = RunStats;

export interface DatasetSpec {
  /** Shown in the UI and written into exports ("complaint (built-in)", "my.csv"). */
  name: string;
  rows: Row[];
  mapping: ColumnMapping;
  /** Held-out rows for evaluation (built-in test split), if any. */
  testRows: Row[] | null;
}

/** Every step a checkpoint (prompt + AdamW moments) is written to IndexedDB. */
export const CHECKPOINT_EVERY = 5;

export interface RunSpec {
  label: string;
  model: ModelRef;
  data: DatasetSpec;
  prompt: PromptSpec;
  train: TrainSpec;
  /** The tuning method; null or absent: prompt tuning from `prompt` (its seed seeds every method's init). */
  method?: MethodConfig | null;
}

/** A method's size on the loaded model, for the settings form (before any run). */
export interface MethodFacts {
  /** Trainable values (PEFT's print_trainable_parameters). */
  trainableParams: number;
  /** Bytes of adapter_model.safetensors as PEFT saves it. */
  adapterBytes: number;
  /** Positions taken from the context (virtual tokens, a prefix's keys). */
  contextTokens: number;
  /** LoRA: the modules it adapts (names as PEFT matches them) and PEFT's default for the model type (null: none). */
  targetModules: string[];
  defaultTargetModules: string[] | null;
  /** Layers x projections LoRA adapts. */
  adaptedModules: number;
}

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

/** Which rows to score: a run's stored held-out rows (what an adapter's accuracy is kept for), or rows the page gives. */
export type EvalSet = { kind: 'run'; runId: string; part?: SplitPart; limit: number | null } | { kind: 'examples'; name: string; examples: Example[]; limit: number | null };

export interface EvaluateRequest {
  set: EvalSet;
  /** Which conditions to score. */
  conditions: EvalCondition[];
  labelTask: boolean;
}

export type EvalCondition = { kind: 'none' } | { kind: 'text'; text: string } | { kind: 'adapter'; adapterId: string };

export interface Evaluation {
  results: EvalResult[];
  /** The rows scored, in words (and kept with the adapter's accuracy). */
  rows: string;
  heldOut: boolean;
  /** The examples scored, in order (predictions line up with them). */
  examples: Example[];
}

export interface EvalResult {
  condition: EvalCondition;
  label: string;
  loss: number;
  /** null when not a label task. */
  labels: LabelEvaluation | null;
  seconds: number;
}

export interface ServeRequest {
  /** Each row's input (the model's text) and adapter (null: the base model). */
  rows: { input: string; adapterId: string | null }[];
  maxNewTokens: number;
}

export interface ServeResult {
  /** Per row: its output with its adapter and the same input's through the base model (greedy, to the end token). */
  rows: { adapterId: string | null; input: string; output: string; base: string }[];
  /** The rows and their base-model twins as one mixed batch (the faster of SERVE_TIMING_RUNS runs). */
  mixedMs: number;
  /** The same rows one at a time, as a server that swaps adapters between requests (the faster of SERVE_TIMING_RUNS runs). */
  oneByOneMs: number;
  /** Runs of each way, alternating; the times are each way's fastest. */
  runs: number;
  /** Whether both ways, in every run, gave every row the same ids. */
  identical: boolean;
  /** Tokens generated in all (one way). */
  tokens: number;
}

/** A task's pinned suite, without its rows. */
export interface SuiteInfo {
  task: string;
  source: string;
  createdAt: number;
  hash: string;
  rows: number;
  labels: string[];
}

export interface PinSuiteRequest {
  task: string;
  /** A run's held-out rows (the first `limit`, round-robin over labels), or an uploaded file: a suite file or a JSONL/CSV of labelled rows. */
  from: { kind: 'run'; runId: string; limit?: number } | { kind: 'file'; name: string; text: string };
}

export interface TaskVersions {
  task: string;
  suite: SuiteInfo | null;
  /** Oldest first; empty when the task has no suite. */
  rows: VersionRow[];
  /** The loaded model's revision, which each version's is compared with. */
  loadedRevision: string | null;
  /** Adapters of the task that no suite scored yet (the task has no suite). */
  unscored: number;
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

/** A run that ended without its adapter being saved, with its checkpoint if one was written. */
export interface Recoverable {
  run: RunSummaryRecord;
  checkpoint: { step: number; savedAt: number } | null;
}

/**
 * Every command the engine worker answers. The worker's EngineService implements it and the page
 * holds it through Comlink (src/ui/engine/client.ts); nothing on the page touches tfjs or IndexedDB.
 */
export interface EngineCommands {
  subscribe(listener: (e: EngineEvent) => void): void;
  init(requested: BackendName): Promise<BackendInfo>;
  loadModel(spec: ModelSpec): Promise<ModelInfo>;
  cacheSummary(): Promise<CacheSummary>;
  clearCache(): Promise<void>;

  examplePreview(example: Example, maxLength: number | null, numVirtualTokens: number): ExamplePreview;
  initTextPreview(text: string, numVirtualTokens: number): InitTextPreview;
  dataStats(req: DataStatsRequest): Promise<DataStats>;
  initScale(kind: 'RANDOM' | 'TEXT' | 'SAMPLE_VOCAB'): { promptNorm: number; embeddingNorm: number };
  methodFacts(method: MethodConfig): MethodFacts;

  startRun(spec: RunSpec): Promise<RunStarted>;
  resumeRun(runId: string): Promise<RunStarted>;
  pauseRun(): void;
  continueRun(): void;
  stopRun(): void;

  listRuns(): Promise<RunSummaryRecord[]>;
  deleteRun(runId: string): Promise<void>;
  recoverable(): Promise<Recoverable | null>;

  listAdapters(): Promise<AdapterSummary[]>;
  setActiveAdapter(id: string | null): Promise<string[]>;
  importAdapter(uploads: { name: string; bytes: Uint8Array }[], displayName: string): Promise<ImportedAdapter>;
  adapterFromCheckpoint(runId: string): Promise<string>;
  renameAdapter(id: string, name: string): Promise<void>;
  deleteAdapter(id: string): Promise<void>;
  exportAdapter(id: string): Promise<ExportedAdapter>;

  evaluate(req: EvaluateRequest): Promise<Evaluation>;
  generate(req: GenerateRequest): Promise<GenerateResult>;
  inspect(adapterId: string, k?: number): Promise<InspectResult>;
  /** The Serve tab: rows of several adapters decoded as one batch, against one by one. */
  serve(req: ServeRequest): Promise<ServeResult>;

  /** Evaluation suites and adapter versions (the Adapters panel). */
  listSuites(): Promise<SuiteInfo[]>;
  pinSuite(req: PinSuiteRequest): Promise<SuiteInfo>;
  unpinSuite(task: string): Promise<void>;
  suiteFile(task: string): Promise<{ fileName: string; text: string }>;
  taskVersions(task: string): Promise<TaskVersions>;
  /** Scores an adapter on its task's suite (and keeps the score with it). */
  evaluateVersion(adapterId: string): Promise<SuiteScore>;
  /** Makes an adapter a version of a task (an imported one has none), or of none. */
  setAdapterTask(adapterId: string, task: string | null): Promise<void>;

  memory(): { numTensors: number; numBytes: number };
  loseDevice(): void;
}
