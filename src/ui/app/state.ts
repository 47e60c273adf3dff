// The state the panels share. Panel-local details (form drafts, open sections) stay in the panels.
import type { ColumnMapping, Example } from '../../engine/data/examples.ts';
import type { Row } from '../../engine/data/parse.ts';
import type { RunSummaryRecord } from '../../store/records.ts';
import {
  DEFAULT_METHODS,
  DEFAULT_PROMPT_SPEC,
  DEFAULT_TRAIN_SPEC,
  type AdapterSummary,
  type BackendInfo,
  type BackendName,
  type DataStats,
  type ModelInfo,
  type MethodConfig,
  type MethodName,
  type ModelSpec,
  type PromptSpec,
  type RunCost,
  type RunHistory,
  type RunStatus,
  type TrainSpec,
} from '../../worker/protocol.ts';
import type { BuiltinDataset } from '../data/builtins.ts';
import { DEFAULT_HUB_ENDPOINT, type EmbeddedModel } from '../model/models.ts';
import { createStore } from './store.ts';

export interface FileLoad {
  loaded: number;
  total: number | null;
  cached: boolean;
  /** performance.now() of this file's first and latest progress event: its own speed and ETA. */
  startedAt: number;
  updatedAt: number;
}

export interface Dataset {
  name: string;
  source: { kind: 'builtin'; id: string } | { kind: 'file'; fileName: string } | { kind: 'paste' };
  rows: Row[];
  testRows: Row[] | null;
  columns: string[];
  description: string | null;
}

export interface LiveRun {
  id: string;
  label: string;
  status: RunStatus | 'starting';
  totalSteps: number;
  stepsPerEpoch: number;
  epochs: number;
  /** Mutated in place as steps arrive; `version` changes so views re-read it. */
  history: RunHistory;
  version: number;
  epoch: number;
  lastCheckpoint: { step: number; savedAt: number } | null;
  numTensors: number | null;
  /** tf.memory().numTensors in the worker after each step (flat: nothing leaks). */
  tensorCounts: number[];
  message: string;
  /** What the worker does between the last step and the run's end (scoring the new version on its task's suite). */
  activity?: string;
  adapterId: string | null;
  warnings: string[];
  numVirtualTokens: number;
  hiddenSize: number;
  method: MethodName;
}

/** Each non-prompt method's settings (prompt tuning's are `prompt`); kept while another method is chosen. */
export type MethodSettings = { [K in Exclude<MethodName, 'prompt'>]: Extract<MethodConfig, { method: K }> };

/** One method's run in a comparison, from training to its held-out score. */
export interface CompareRow {
  method: MethodName;
  label: string;
  status: 'waiting' | 'training' | 'evaluating' | 'done' | 'failed' | 'skipped';
  error: string | null;
  runId: string | null;
  adapterId: string | null;
  cost: RunCost | null;
  /** Loss and accuracy on the run's stored validation rows. */
  evalLoss: number | null;
  accuracy: number | null;
  perLabel: Record<string, { correct: number; total: number; accuracy: number }> | null;
  /** The run's curves, for the overlaid chart. */
  history: RunHistory | null;
}

export interface Comparison {
  status: 'idle' | 'running' | 'done' | 'stopped';
  /** The rows scored (the first run's validation rows: every run has the same split), in words. */
  rows: string | null;
  entries: CompareRow[];
  /** Always answering the most frequent label of those rows. */
  majority: { label: string; accuracy: number; perLabel: Record<string, number> } | null;
  /** The frozen model with no adapter on the same rows. */
  none: { loss: number; accuracy: number | null; perLabel: Record<string, { correct: number; total: number; accuracy: number }> | null } | null;
  error: string | null;
}

export interface Recovery {
  run: RunSummaryRecord;
  reason: string;
  checkpoint: { step: number; savedAt: number } | null;
}

export interface Toast {
  id: number;
  kind: 'info' | 'success' | 'error' | 'warning';
  text: string;
}

export type Tab = 'train' | 'compare' | 'evaluate' | 'inspect' | 'adapters' | 'serve';

export interface AppState {
  engineStatus: 'starting' | 'ready' | 'restarting' | 'failed';
  engineError: string | null;
  backend: BackendInfo | null;
  preferredBackend: BackendName;
  deviceLost: string | null;

  embedded: EmbeddedModel[];
  modelStatus: 'idle' | 'loading' | 'ready' | 'error';
  modelLabel: string;
  model: ModelInfo | null;
  modelError: string | null;
  loadFiles: Record<string, FileLoad>;
  loadStartedAt: number;
  lastModelSpec: ModelSpec | null;
  hubEndpoint: string;

  builtins: BuiltinDataset[];
  dataset: Dataset | null;
  mapping: ColumnMapping | null;
  dataError: string | null;
  examples: Example[] | null;
  testExamples: Example[] | null;
  stats: DataStats | null;
  statsError: string | null;

  prompt: PromptSpec;
  train: TrainSpec;
  /** Max length follows the data (the longest example, rounded up) until the user sets it. */
  maxLengthAuto: boolean;
  /** The tuning method Train trains, and each method's settings. */
  method: MethodName;
  methods: MethodSettings;
  /** Learning rates the user set, per method; a method without one trains at DEFAULT_LR. */
  methodLr: Partial<Record<MethodName, number>>;
  /** The methods ticked for a comparison, and the last comparison. */
  compareMethods: MethodName[];
  comparison: Comparison;

  run: LiveRun | null;
  runs: RunSummaryRecord[];
  overlay: string[];

  adapters: AdapterSummary[];
  activeAdapterId: string | null;
  activeWarnings: string[];

  recovery: Recovery | null;
  toasts: Toast[];
  tab: Tab;
}

export const app = createStore<AppState>({
  engineStatus: 'starting',
  engineError: null,
  backend: null,
  preferredBackend: 'webgpu',
  deviceLost: null,

  embedded: [],
  modelStatus: 'idle',
  modelLabel: '',
  model: null,
  modelError: null,
  loadFiles: {},
  loadStartedAt: 0,
  lastModelSpec: null,
  hubEndpoint: DEFAULT_HUB_ENDPOINT,

  builtins: [],
  dataset: null,
  mapping: null,
  dataError: null,
  examples: null,
  testExamples: null,
  stats: null,
  statsError: null,

  prompt: { ...DEFAULT_PROMPT_SPEC },
  train: { ...DEFAULT_TRAIN_SPEC },
  maxLengthAuto: true,
  method: 'prompt',
  methods: { prefix: { ...DEFAULT_METHODS.prefix }, p_tuning: { ...DEFAULT_METHODS.p_tuning }, lora: { ...DEFAULT_METHODS.lora } },
  methodLr: {},
  compareMethods: ['prompt', 'prefix', 'p_tuning', 'lora'],
  comparison: { status: 'idle', rows: null, entries: [], majority: null, none: null, error: null },

  run: null,
  runs: [],
  overlay: [],

  adapters: [],
  activeAdapterId: null,
  activeWarnings: [],

  recovery: null,
  toasts: [],
  tab: 'train',
});

export const isTraining = (s: AppState): boolean => s.run !== null && (s.run.status === 'running' || s.run.status === 'paused' || s.run.status === 'starting');
