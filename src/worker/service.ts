// The engine worker's API: every call the UI makes, each a thin shell over engine calls.
// It owns the running training loop and the adapters; the model and backend are the session's.
import * as tf from '@tensorflow/tfjs-core';
import { checkAdapterFits, makeAdapter, readAdapter } from '../engine/adapter/adapter.ts';
import { adapterFilesFromUploads, zipFolder } from '../engine/adapter/archive.ts';
import { AdapterError } from '../engine/adapter/peft-config.ts';
import type { ColumnMapping, Example } from '../engine/data/examples.ts';
import { datasetHash } from '../engine/data/hash.ts';
import { generate } from '../engine/generate.ts';
import { inspectPrompt } from '../engine/inspect.ts';
import type { LoadedModel } from '../engine/load.ts';
import { initSoftPrompt } from '../engine/prompt/init.ts';
import { applyAdapter } from '../engine/run/adapter.ts';
import { evaluateCondition, firstExamples, splitRows } from '../engine/run/evaluate.ts';
import { exportBundle } from '../engine/run/export.ts';
import { planRun, runStats, trainerFor, type RunPlan } from '../engine/run/plan.ts';
import { initPromptNorm } from '../engine/run/spec.ts';
import type { TrainCheckpoint } from '../engine/train/trainer.ts';
import * as store from '../store/db.ts';
import {
  emptyHistory,
  historyUpTo,
  newAdapterRecord,
  summaryOf,
  type AdapterRecord,
  type AdapterSummary,
  type DatasetRecord,
  type RunRecord,
  type RunSummaryRecord,
  type StoredRunSpec,
} from '../store/records.ts';
import { EngineError } from './engine-error.ts';
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
  type EvalCondition,
  type EvalResult,
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

/** Top-k of sampled generation in "try it" (transformers' generate default). */
const TOP_K = 50;

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
  private run: TrainingRun | null = null;
  /** Adapters IndexedDB could not store (quota): still usable and downloadable this session. */
  private readonly unsaved = new Map<string, AdapterRecord>();

  constructor(private readonly host: EngineHost) {
    this.session = new ModelSession(host, (e) => this.emit(e));
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
    this.run = new TrainingRun({ emit: (e) => this.emit(e), lm, backend, deviceLost: this.session.deviceLost, keepUnsaved: (a) => this.unsaved.set(a.id, a) }, record, trainer);
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

  async listAdapters(): Promise<AdapterSummary[]> {
    const stored = (await store.listAdapters()).map(summaryOf);
    return [...[...this.unsaved.values()].map(summaryOf), ...stored.filter((a) => !this.unsaved.has(a.id))];
  }

  async renameAdapter(id: string, name: string): Promise<void> {
    const kept = this.unsaved.get(id);
    if (kept) kept.name = name;
    else await store.updateAdapter(id, { name });
  }

  async deleteAdapter(id: string): Promise<void> {
    if (this.session.activeId === id) this.session.setActive(null);
    this.unsaved.delete(id);
    await store.deleteAdapter(id);
  }

  private async adapterRecord(id: string): Promise<AdapterRecord> {
    const a = this.unsaved.get(id) ?? (await store.getAdapter(id));
    if (!a) throw new EngineError(`adapter ${id} is not in this browser's storage any more`);
    return a;
  }

  private promptTensor(a: AdapterRecord): tf.Tensor2D {
    return applyAdapter(this.need(), { config: a.config, promptEmbeddings: a.prompt }).prompt;
  }

  /** Makes an adapter the one "try it", evaluation and inspection use; no model reload. */
  async setActiveAdapter(id: string | null): Promise<string[]> {
    if (id === null) {
      this.session.setActive(null);
      return [];
    }
    const lm = this.need();
    const a = await this.adapterRecord(id);
    const { prompt, warnings } = applyAdapter(lm, { config: a.config, promptEmbeddings: a.prompt });
    this.session.setActive({ id, prompt });
    return warnings;
  }

  /** Reads a PEFT adapter from uploaded files or a zip, checks it against the loaded model and stores it. */
  async importAdapter(uploads: { name: string; bytes: Uint8Array }[], displayName: string): Promise<ImportedAdapter> {
    const adapter = readAdapter(adapterFilesFromUploads(uploads));
    const lm = this.need();
    const warnings = checkAdapterFits(adapter, lm.model.config, lm.origin);
    const c = adapter.config;
    const model = { kind: lm.origin.kind, id: c.baseModel ?? lm.origin.id, revision: c.revision, commit: c.revision };
    const record = newAdapterRecord({ name: displayName, source: 'imported', config: c, model, prompt: adapter.promptEmbeddings, importedFrom: uploads.map((u) => u.name), warnings });
    await store.putAdapter(record);
    return { adapterId: record.id, warnings };
  }

  /** Keeps a checkpoint's prompt as an adapter (for an interrupted run the user does not resume). */
  async adapterFromCheckpoint(runId: string): Promise<string> {
    const run = await store.getRun(runId);
    const checkpoint = await store.getCheckpoint(runId);
    if (!run || !checkpoint) throw new EngineError('that run has no checkpoint');
    const lm = this.need();
    this.session.checkModelFor(run);
    const h = historyUpTo(run.history, checkpoint.step);
    const record = newAdapterRecord({
      name: `${run.spec.label} (checkpoint, step ${checkpoint.step})`,
      source: 'checkpoint',
      runId,
      config: makeAdapter(checkpoint.prompt, lm.model.config, lm.origin, run.spec.prompt).config,
      model: lm.origin,
      metrics: { steps: checkpoint.step, finalLoss: h.loss.at(-1) ?? null, bestValLoss: checkpoint.bestValLoss, stopReason: 'stopped', backend: run.backend },
      prompt: checkpoint.prompt,
      initPrompt: run.initPrompt,
      initIds: run.initIds,
      lossCurve: { step: h.step, loss: h.loss },
    });
    await store.putAdapter(record);
    await store.putRun({ ...run, status: 'stopped', statusMessage: `kept the checkpoint of step ${checkpoint.step} as an adapter`, adapterId: record.id });
    return record.id;
  }

  /** The PEFT folder (+ train_peft.py, the dataset and its split) as files and as one zip. */
  async exportAdapter(id: string): Promise<ExportedAdapter> {
    const a = await this.adapterRecord(id);
    const run = a.runId ? await store.getRun(a.runId) : undefined;
    const dataset = run ? await store.getDataset(run.spec.data.datasetId) : undefined;
    // A built-in model exists nowhere but on this server: ship it beside the adapter.
    const ref = this.session.info?.ref;
    const baseModelFiles = ref?.kind === 'embedded' && a.model.kind === 'folder' && ref.name === a.model.id ? await this.host.embeddedFiles(ref.url) : undefined;
    const { files, folderName } = exportBundle({
      name: a.name,
      adapter: { config: a.config, promptEmbeddings: a.prompt },
      baseKind: a.model.kind,
      metrics: { finalLoss: a.metrics.finalLoss, bestValLoss: a.metrics.bestValLoss, accuracy: a.metrics.accuracy, trainedOn: a.metrics.backend ? `${a.metrics.backend} in the browser` : null },
      ...(run && dataset
        ? {
            run: {
              dataName: run.spec.data.name,
              mapping: run.spec.data.mapping,
              prompt: run.spec.prompt,
              train: run.spec.train,
              split: run.split,
              evalEvery: run.evalEvery,
              steps: a.metrics.steps ?? run.stepsDone,
              rows: dataset.rows,
              testRows: dataset.testRows,
              contextLength: this.session.info?.contextLength ?? null,
            },
          }
        : {}),
      baseModelFiles,
    });
    return { files, zip: zipFolder(folderName, files), folderName };
  }

  // ---------------------------------------------------------------- evaluate, try, inspect

  private conditionLabel(c: EvalCondition, names: Map<string, string>): string {
    if (c.kind === 'none') return 'no prompt';
    if (c.kind === 'text') return `text prompt "${c.text}"`;
    return `soft prompt: ${names.get(c.adapterId) ?? c.adapterId}`;
  }

  /** The rows an evaluation scores: a run's stored held-out rows, or the examples the page gave. */
  private async evalRows(req: EvaluateRequest): Promise<{ examples: Example[]; rows: string; heldOut: boolean; datasetHash: string | null }> {
    const set = req.set;
    if (set.kind === 'examples') {
      const examples = firstExamples(set.examples, set.limit);
      return { examples, rows: `${examples.length < set.examples.length ? `the first ${examples.length} of ` : ''}${set.examples.length} ${set.name}`, heldOut: false, datasetHash: null };
    }
    const run = await store.getRun(set.runId);
    if (!run) throw new EngineError(`run ${set.runId} is not in this browser's storage any more`);
    const dataset = await store.getDataset(run.spec.data.datasetId);
    if (!dataset) throw new EngineError(`the data of run "${run.spec.label}" is no longer in this browser's storage`);
    const part = splitRows(run.split, { hash: dataset.id, rows: dataset.rows, testRows: dataset.testRows }, run.spec.data.mapping, run.spec.data.name, set.part);
    const examples = firstExamples(part.examples, set.limit);
    const of = examples.length < part.examples.length ? `the first ${examples.length} of the ` : '';
    return { examples, rows: `${of}${part.examples.length} ${part.part} rows of ${run.spec.data.name} held out by run "${run.spec.label}"`, heldOut: true, datasetHash: dataset.id };
  }

  /** Scores each condition on the chosen rows; an adapter's accuracy is kept with the rows it was measured on. */
  async evaluate(req: EvaluateRequest): Promise<Evaluation> {
    this.need();
    const { examples, rows, heldOut, datasetHash } = await this.evalRows(req);
    if (examples.length === 0) throw new EngineError('there are no examples to evaluate on');
    const results: EvalResult[] = [];
    const names = new Map<string, string>();
    for (const c of req.conditions) {
      const t0 = performance.now();
      let prompt: tf.Tensor2D | null = null;
      if (c.kind === 'adapter') {
        const a = await this.adapterRecord(c.adapterId);
        names.set(a.id, a.name);
        prompt = this.promptTensor(a);
      }
      try {
        const label = this.conditionLabel(c, names);
        const score = await evaluateCondition(this.need(), prompt, examples, {
          textPrefix: c.kind === 'text' ? c.text : undefined,
          labelTask: req.labelTask,
          onProgress: (done, total) => this.emit({ type: 'task-progress', task: `Evaluating ${label}`, done, total }),
        });
        results.push({ condition: c, label, loss: score.loss, labels: score.labels, seconds: (performance.now() - t0) / 1000 });
        if (c.kind === 'adapter' && score.labels) {
          // Held out only for the adapter whose own run held these rows out of training.
          const own = req.set.kind === 'run' && (await this.adapterRecord(c.adapterId)).runId === req.set.runId;
          const accuracy = { value: score.labels.accuracy, count: examples.length, rows, heldOut: heldOut && own, datasetHash };
          const kept = this.unsaved.get(c.adapterId);
          if (kept) kept.metrics.accuracy = accuracy;
          else await store.updateAdapter(c.adapterId, { metrics: { accuracy } });
        }
      } finally {
        prompt?.dispose();
      }
    }
    return { results, rows, heldOut, examples };
  }

  async generate(req: GenerateRequest): Promise<GenerateResult> {
    const lm = this.need();
    const t0 = performance.now();
    const ids = lm.tokenizer.encode(req.input);
    const options = { maxNewTokens: req.maxNewTokens, greedy: req.greedy, temperature: req.temperature, topK: TOP_K, seed: req.seed, stopTokenIds: [lm.eosTokenId] };
    const decode = (out: number[]) => lm.tokenizer.decode(out.filter((i) => i !== lm.eosTokenId));
    const without = await generate(lm.model, null, ids, options);
    let withPrompt: number[] | null = null;
    if (req.adapterId) {
      const a = await this.adapterRecord(req.adapterId);
      const prompt = this.promptTensor(a);
      try {
        withPrompt = await generate(lm.model, prompt, ids, options);
      } finally {
        prompt.dispose();
      }
    }
    return {
      without: decode(without),
      withoutTokens: without.length,
      withPrompt: withPrompt ? decode(withPrompt) : null,
      withTokens: withPrompt?.length ?? 0,
      seconds: (performance.now() - t0) / 1000,
    };
  }

  async inspect(adapterId: string, k = 5): Promise<InspectResult> {
    const lm = this.need();
    const a = await this.adapterRecord(adapterId);
    if (a.config.tokenDim !== lm.model.config.hiddenSize) throw new AdapterError(`this adapter is ${a.config.tokenDim} wide; the loaded model's hidden size is ${lm.model.config.hiddenSize}`);
    return inspectPrompt(lm.model, lm.tokenizer, a.prompt, { values: a.initPrompt, ids: a.initIds }, k);
  }

  /** The init prompt's scale next to the vocabulary's, for the teach panel's RANDOM warning. */
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
