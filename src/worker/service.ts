// The engine worker's API: every call the UI makes, each a thin shell over engine calls.
// It owns the running training loop; the model and backend are the session's, the adapters and
// the evaluation commands have their own modules.
import * as tf from '@tensorflow/tfjs-core';
import type { ColumnMapping, Example } from '../engine/data/examples.ts';
import { datasetHash } from '../engine/data/hash.ts';
import type { LoadedModel } from '../engine/load.ts';
import { initSoftPrompt } from '../engine/prompt/init.ts';
import { planRun, runStats, trainerFor, type RunPlan } from '../engine/run/plan.ts';
import { initPromptNorm } from '../engine/run/spec.ts';
import type { TrainCheckpoint } from '../engine/train/trainer.ts';
import * as store from '../store/db.ts';
import { emptyHistory, historyUpTo, type AdapterSummary, type DatasetRecord, type RunRecord, type RunSummaryRecord, type StoredRunSpec } from '../store/records.ts';
import { Adapters } from './adapters.ts';
import { EngineError } from './engine-error.ts';
import { evaluate, inspect, tryIt } from './evaluation.ts';
import { clearCache, summarizeCache, type CacheSummary } from './file-cache.ts';
import { ModelSession, type ModelHost } from './model-session.ts';
import { examplePreview, initTextPreview } from './previews.ts';
import {
  CHECKPOINT_EVERY,
  type BackendInfo,
  type BackendName,
  type DataStats,
  type DataStatsRequest,
  type DatasetSpec,
  type EngineCommands,
  type EngineEvent,
  type EvaluateRequest,
  type Evaluation,
  type ExamplePreview,
  type ExportedAdapter,
  type GenerateRequest,
  type GenerateResult,
  type ImportedAdapter,
  type InitTextPreview,
  type InspectResult,
  type ModelInfo,
  type ModelSpec,
  type Recoverable,
  type RunSpec,
  type RunStarted,
} from './protocol.ts';
import { TrainingRun } from './run.ts';

export { EngineError } from './engine-error.ts';

/** What the service needs from its host: the browser worker (worker.ts) or a Node test. */
export interface EngineHost extends ModelHost {
  /** The files of a built-in model, to ship beside its adapters ({} when unknown). */
  embeddedFiles(url: string): Promise<Record<string, Uint8Array>>;
}

/** A run's data as stored: once, under the hash of its rows. */
async function datasetRecord(data: DatasetSpec): Promise<DatasetRecord> {
  return { id: await datasetHash(data.rows, data.testRows), name: data.name, rows: data.rows, testRows: data.testRows };
}

export class EngineService implements EngineCommands {
  private listeners: ((e: EngineEvent) => void)[] = [];
  private readonly session: ModelSession;
  private readonly adapters: Adapters;
  private run: TrainingRun | null = null;

  constructor(host: EngineHost) {
    this.session = new ModelSession(host, (e) => this.emit(e));
    this.adapters = new Adapters(this.session, (url) => host.embeddedFiles(url));
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

  private need(): LoadedModel {
    return this.session.need();
  }

  private idle(what: string): void {
    if (this.run && (this.run.status === 'running' || this.run.status === 'paused')) throw new EngineError(`stop the training run before ${what}`);
  }

  // ---------------------------------------------------------------- model

  async loadModel(spec: ModelSpec): Promise<ModelInfo> {
    this.idle('loading another model');
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
    return examplePreview(this.need(), example, maxLength, numVirtualTokens);
  }

  initTextPreview(text: string, numVirtualTokens: number): InitTextPreview {
    return initTextPreview(this.need(), text, numVirtualTokens);
  }

  async dataStats(req: DataStatsRequest): Promise<DataStats> {
    this.need();
    const dataset = await datasetRecord(req.data);
    // The page applies the step limit itself (changing it asks for no new stats).
    return runStats(this.plan({ ...req, train: { ...req.train, maxSteps: null } }, dataset));
  }

  // ---------------------------------------------------------------- training

  /** The plan of a run (or of the data panel's numbers): the engine's planRun on the stored dataset. */
  private plan(spec: Pick<StoredRunSpec, 'prompt' | 'train'> & { data: { name: string; mapping: ColumnMapping } }, dataset: DatasetRecord, split?: RunRecord['split']): RunPlan {
    const { data, prompt, train } = spec;
    return planRun(this.need(), {
      rows: dataset.rows,
      testRows: dataset.testRows,
      datasetHash: dataset.id,
      mapping: data.mapping,
      name: data.name,
      numVirtualTokens: prompt.numVirtualTokens,
      train,
      split,
      checkpointEvery: CHECKPOINT_EVERY,
    });
  }

  private begin(record: RunRecord, plan: RunPlan, resume: TrainCheckpoint | undefined, warnings: string[]): RunStarted {
    const lm = this.need();
    const trainer = trainerFor(lm, plan, record.initPrompt, record.spec.prompt.numVirtualTokens, resume);
    const backend = this.session.backendName ?? 'cpu';
    this.run = new TrainingRun({ emit: (e) => this.emit(e), lm, backend, deviceLost: this.session.deviceLost, keepUnsaved: (a) => this.adapters.keepUnsaved(a) }, record, trainer);
    return { runId: record.id, totalSteps: record.totalSteps, stepsPerEpoch: plan.stepsPerEpoch, startStep: resume?.step ?? 0, history: record.history, warnings };
  }

  async startRun(spec: RunSpec): Promise<RunStarted> {
    this.idle('starting another');
    const lm = this.need();
    this.session.checkModelFor(spec);
    const { rows, testRows, name, mapping } = spec.data;
    const dataset = await datasetRecord(spec.data);
    const stored: StoredRunSpec = { ...spec, data: { name, mapping, datasetId: dataset.id, rowCount: rows.length, testRowCount: testRows?.length ?? 0 } };
    const backend = this.session.backendName ?? 'cpu';
    const draft = {
      id: store.newId(),
      createdAt: Date.now(),
      updatedAt: Date.now(),
      spec: stored,
      status: 'running' as const,
      statusMessage: '',
      stepsDone: 0,
      history: emptyHistory(),
      hiddenSize: lm.model.config.hiddenSize,
      adapterId: null,
      backend,
      checkpointStep: 0,
    };
    const plan = this.plan(stored, dataset);
    const init = await initSoftPrompt(lm.model, lm.tokenizer, spec.prompt);
    const record: RunRecord = { ...draft, split: plan.split, evalEvery: plan.evalEvery, totalSteps: plan.totalSteps, initPrompt: init.values, initIds: init.initIds };
    await store.putDataset(dataset);
    await store.putRun(record);
    return this.begin(record, plan, undefined, []);
  }

  /** Continues an interrupted run from its last checkpoint (or from the start when it had none), on its stored split. */
  async resumeRun(runId: string): Promise<RunStarted> {
    this.idle('resuming another');
    const record = await store.getRun(runId);
    if (!record) throw new EngineError(`run ${runId} is not in this browser's storage any more`);
    this.session.checkModelFor(record);
    const dataset = await store.getDataset(record.spec.data.datasetId);
    if (!dataset) throw new EngineError(`the data of run "${record.spec.label}" is no longer in this browser's storage`);
    const checkpoint = await store.getCheckpoint(runId);
    const plan = this.plan(record.spec, dataset, record.split);
    const step = checkpoint?.step ?? 0;
    Object.assign(record, {
      status: 'running',
      statusMessage: '',
      stepsDone: step,
      history: historyUpTo(record.history, step),
      backend: this.session.backendName ?? record.backend,
      totalSteps: plan.totalSteps,
    });
    await store.putRun(record);
    return this.begin(record, plan, checkpoint, checkpoint ? [] : ['no checkpoint had been written yet: the run starts again from step 0']);
  }

  pauseRun(): void {
    this.run?.pause();
  }

  continueRun(): void {
    this.run?.resume();
  }

  stopRun(): void {
    this.run?.stop();
  }

  // ---------------------------------------------------------------- stored runs and adapters (the worker is IndexedDB's only user)

  listRuns(): Promise<RunSummaryRecord[]> {
    return store.listRuns();
  }

  async deleteRun(runId: string): Promise<void> {
    if (this.run?.id === runId) this.idle('deleting it');
    await store.deleteRun(runId);
  }

  /** The latest run that ended without its adapter being saved (to offer resuming it). */
  async recoverable(): Promise<Recoverable | null> {
    const open = (await store.listRuns()).find((r) => r.adapterId === null && (r.status === 'running' || r.status === 'paused' || r.status === 'interrupted'));
    if (!open || (this.run?.id === open.id && (this.run.status === 'running' || this.run.status === 'paused'))) return null;
    const c = await store.getCheckpoint(open.id);
    return { run: open, checkpoint: c ? { step: c.step, savedAt: c.savedAt } : null };
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

  initScale(kind: 'RANDOM' | 'TEXT' | 'SAMPLE_VOCAB'): { promptNorm: number; embeddingNorm: number } {
    const embeddingNorm = this.session.embeddingNorm;
    return { promptNorm: initPromptNorm(kind, this.need().model.config.hiddenSize, embeddingNorm), embeddingNorm };
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
