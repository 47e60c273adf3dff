// The engine worker's API: every call the UI makes (EngineCommands), each a few lines over the
// worker's parts: the backend and loaded model (ModelSession), the adapters (Adapters), the
// training runs (Runs), evaluation and previews, which call the same engine functions as the CLI.
import * as tf from '@tensorflow/tfjs-core';
import type { Example } from '../engine/data/examples.ts';
import { initPromptNorm } from '../engine/run/spec.ts';
import type { AdapterSummary, RunSummaryRecord } from '../store/records.ts';
import { Adapters } from './adapters.ts';
import { evaluate, inspect, tryIt } from './evaluation.ts';
import { clearCache, summarizeCache, type CacheSummary } from './file-cache.ts';
import { ModelSession, type ModelHost } from './model-session.ts';
import { examplePreview, initTextPreview } from './previews.ts';
import { methodFacts } from './method-facts.ts';
import type { MethodConfig } from '../engine/methods/index.ts';
import type {
  BackendInfo,
  BackendName,
  DataStats,
  DataStatsRequest,
  EngineCommands,
  EngineEvent,
  EvaluateRequest,
  Evaluation,
  ExamplePreview,
  ExportedAdapter,
  GenerateRequest,
  GenerateResult,
  ImportedAdapter,
  InitTextPreview,
  InspectResult,
  MethodFacts,
  ModelInfo,
  ModelSpec,
  Recoverable,
  RunSpec,
  RunStarted,
  PinSuiteRequest,
  ServeRequest,
  ServeResult,
  SuiteInfo,
  SuiteScore,
  TaskVersions,
} from './protocol.ts';
import { Runs } from './runs.ts';
import { serveBatch } from './serving.ts';
import { Suites } from './suites.ts';

export { EngineError } from './engine-error.ts';

/** What the service needs from its host: the browser worker (worker.ts) or a Node test. */
export interface EngineHost extends ModelHost {
  /** The files of a built-in model, to ship beside its adapters ({} when unknown). */
  embeddedFiles(url: string): Promise<Record<string, Uint8Array>>;
}

export class EngineService implements EngineCommands {
  private listeners: ((e: EngineEvent) => void)[] = [];
  private readonly session: ModelSession;
  private readonly adapters: Adapters;
  private readonly runs: Runs;
  private readonly suites: Suites;

  constructor(host: EngineHost) {
    const emit = (e: EngineEvent) => this.emit(e);
    this.session = new ModelSession(host, emit);
    this.adapters = new Adapters(this.session, (url) => host.embeddedFiles(url));
    this.suites = new Suites(this.session, this.adapters, emit);
    this.runs = new Runs(this.session, this.adapters, this.suites, emit);
  }

  subscribe(listener: (e: EngineEvent) => void): void {
    this.listeners.push(listener);
  }

  private emit(e: EngineEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // a closed page: nothing to tell
      }
    }
  }

  init(requested: BackendName): Promise<BackendInfo> {
    return this.session.init(requested);
  }

  // ---------------------------------------------------------------- model

  async loadModel(spec: ModelSpec): Promise<ModelInfo> {
    this.runs.idle('loading another model');
    return this.session.load(spec);
  }

  cacheSummary(): Promise<CacheSummary> {
    return summarizeCache();
  }

  clearCache(): Promise<void> {
    return clearCache();
  }

  // ---------------------------------------------------------------- data and prompt previews

  examplePreview(example: Example, maxLength: number | null, numVirtualTokens: number): ExamplePreview {
    return examplePreview(this.session.need(), example, maxLength, numVirtualTokens);
  }

  initTextPreview(text: string, numVirtualTokens: number): InitTextPreview {
    return initTextPreview(this.session.need(), text, numVirtualTokens);
  }

  dataStats(req: DataStatsRequest): Promise<DataStats> {
    return this.runs.stats(req);
  }

  /** The init prompt's scale next to the vocabulary's, for the teach panel's RANDOM warning. */
  initScale(kind: 'RANDOM' | 'TEXT' | 'SAMPLE_VOCAB'): { promptNorm: number; embeddingNorm: number } {
    const { hiddenSize } = this.session.need().model.config;
    const embeddingNorm = this.session.embeddingNorm;
    return { promptNorm: initPromptNorm(kind, hiddenSize, embeddingNorm), embeddingNorm };
  }

  /** A method's trainable values, adapter file and (LoRA) adapted modules on the loaded model. */
  methodFacts(method: MethodConfig): MethodFacts {
    return methodFacts(this.session.need(), method);
  }

  // ---------------------------------------------------------------- training

  startRun(spec: RunSpec): Promise<RunStarted> {
    return this.runs.start(spec);
  }

  /** Continues an interrupted run from its last checkpoint (or from the start when it had none), on its stored split. */
  resumeRun(runId: string): Promise<RunStarted> {
    return this.runs.resume(runId);
  }

  pauseRun(): void {
    this.runs.pause();
  }

  continueRun(): void {
    this.runs.continue();
  }

  stopRun(): void {
    this.runs.stop();
  }

  // ---------------------------------------------------------------- stored runs and adapters (the worker is IndexedDB's only user)

  listRuns(): Promise<RunSummaryRecord[]> {
    return this.runs.list();
  }

  deleteRun(runId: string): Promise<void> {
    return this.runs.delete(runId);
  }

  /** The latest run that ended without its adapter being saved (to offer resuming it). */
  recoverable(): Promise<Recoverable | null> {
    return this.runs.recoverable();
  }

  listAdapters(): Promise<AdapterSummary[]> {
    return this.adapters.list();
  }

  renameAdapter(id: string, name: string): Promise<void> {
    return this.adapters.rename(id, name);
  }

  deleteAdapter(id: string): Promise<void> {
    return this.adapters.delete(id);
  }

  /** Makes an adapter the one "try it", evaluation and inspection use; no model reload. */
  setActiveAdapter(id: string | null): Promise<string[]> {
    return this.adapters.setActive(id);
  }

  /** Reads a PEFT adapter from uploaded files or a zip, checks it against the loaded model and stores it. */
  importAdapter(uploads: { name: string; bytes: Uint8Array }[], displayName: string): Promise<ImportedAdapter> {
    return this.adapters.import(uploads, displayName);
  }

  /** Keeps a checkpoint's prompt as an adapter (for an interrupted run the user does not resume). */
  adapterFromCheckpoint(runId: string): Promise<string> {
    return this.adapters.fromCheckpoint(runId);
  }

  /** The PEFT folder (+ train_peft.py, the dataset and its split) as files and as one zip. */
  exportAdapter(id: string): Promise<ExportedAdapter> {
    return this.adapters.export(id);
  }

  // ---------------------------------------------------------------- evaluate, try, inspect

  /** Scores each condition on the chosen rows; an adapter's accuracy is kept with the rows it was measured on. */
  evaluate(req: EvaluateRequest): Promise<Evaluation> {
    return evaluate(this.session, this.adapters, req, (e) => this.emit(e));
  }

  generate(req: GenerateRequest): Promise<GenerateResult> {
    return tryIt(this.session, this.adapters, req);
  }

  inspect(adapterId: string, k = 5): Promise<InspectResult> {
    return inspect(this.session, this.adapters, adapterId, k);
  }

  serve(req: ServeRequest): Promise<ServeResult> {
    return serveBatch(this.session, this.adapters, req);
  }

  // ---------------------------------------------------------------- suites and versions

  listSuites(): Promise<SuiteInfo[]> {
    return this.suites.list();
  }

  pinSuite(req: PinSuiteRequest): Promise<SuiteInfo> {
    return this.suites.pin(req);
  }

  unpinSuite(task: string): Promise<void> {
    return this.suites.unpin(task);
  }

  suiteFile(task: string): Promise<{ fileName: string; text: string }> {
    return this.suites.file(task);
  }

  taskVersions(task: string): Promise<TaskVersions> {
    return this.suites.versions(task);
  }

  evaluateVersion(adapterId: string): Promise<SuiteScore> {
    return this.suites.evaluate(adapterId);
  }

  setAdapterTask(adapterId: string, task: string | null): Promise<void> {
    return this.adapters.setTask(adapterId, task);
  }

  memory(): { numTensors: number; numBytes: number } {
    const m = tf.memory();
    return { numTensors: m.numTensors, numBytes: m.numBytes };
  }

  /** Destroys the GPU device as a driver reset would (to test recovery). */
  loseDevice(): void {
    this.session.loseDevice();
  }
}
