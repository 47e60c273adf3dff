// The engine worker's API: every call the UI makes, each a thin shell over engine calls.
// It owns tfjs, the loaded model, the running training loop and the active adapter.
import * as tf from '@tensorflow/tfjs-core';
import { adapterFiles, checkAdapterFits, makeAdapter, readAdapter, type PromptAdapter } from '../engine/adapter/adapter.ts';
import { adapterFilesFromUploads, zipFolder } from '../engine/adapter/archive.ts';
import { modelCard } from '../engine/adapter/model-card.ts';
import { AdapterError } from '../engine/adapter/peft-config.ts';
import { trainScript } from '../engine/adapter/train-script.ts';
import { sequentialBatches } from '../engine/data/batches.ts';
import { encodeExample } from '../engine/data/encode.ts';
import { toExamples, type Example } from '../engine/data/examples.ts';
import { previewExample } from '../engine/data/preview.ts';
import { buildTrainingSet, exampleBudget } from '../engine/data/training-set.ts';
import { evaluateLabels, evaluateLoss } from '../engine/evaluate.ts';
import { generate } from '../engine/generate.ts';
import { embeddingScale, inspectPrompt, type EmbeddingScale } from '../engine/inspect.ts';
import { loadModel, type LoadedModel } from '../engine/load.ts';
import { textInitIds } from '../engine/prompt/init.ts';
import { initSoftPrompt } from '../engine/prompt/init.ts';
import { PromptTrainer, type TrainOptions } from '../engine/train/trainer.ts';
import { datasetKey, getAdapter, getCheckpoint, getDataset, getRun, newId, putAdapter, putDataset, putRun } from '../store/db.ts';
import type { Row } from '../engine/data/parse.ts';
import type { AdapterRecord, RunRecord } from '../store/records.ts';
import { initBackend, type BackendHandle } from './backend.ts';
import { CacheStorageFileCache, clearCache, summarizeCache, type CacheSummary } from './file-cache.ts';
import { sourceFor } from './model-source.ts';
import {
  CHECKPOINT_EVERY,
  emptyHistory,
  type BackendInfo,
  type BackendName,
  type DataStats,
  type DataStatsRequest,
  type EngineEvent,
  type EvalCondition,
  type EvalResult,
  type EvaluateRequest,
  type ExamplePreview,
  type ExportedAdapter,
  type GenerateRequest,
  type GenerateResult,
  type ImportedAdapter,
  type InitTextPreview,
  type InspectResult,
  type ModelInfo,
  type ModelRef,
  type ModelSpec,
  type RunSpec,
  type RunStarted,
  type TokenView,
} from './protocol.ts';
import { TrainingRun } from './run.ts';

export class EngineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineError';
  }
}

const refOf = (spec: ModelSpec): ModelRef =>
  spec.kind === 'embedded' ? { kind: 'embedded', name: spec.name, url: spec.url } : spec.kind === 'hub' ? { kind: 'hub', ref: spec.ref, endpoint: spec.endpoint } : { kind: 'files', name: spec.name };

export class EngineService {
  private listeners: ((e: EngineEvent) => void)[] = [];
  private backend: BackendHandle | null = null;
  private lm: LoadedModel | null = null;
  private model: ModelInfo | null = null;
  private scale: EmbeddingScale | null = null;
  private run: TrainingRun | null = null;
  private active: { id: string; prompt: tf.Tensor2D } | null = null;
  private readonly cache = new CacheStorageFileCache();
  private deviceGone: string | null = null;
  /** Adapters IndexedDB could not store (quota): still usable and downloadable this session. */
  private readonly unsaved = new Map<string, AdapterRecord>();

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

  async init(requested: BackendName): Promise<BackendInfo> {
    if (this.backend) return this.backend.info;
    this.backend = await initBackend(requested);
    void this.backend.deviceLost.then((message) => {
      this.deviceGone = message;
      this.emit({ type: 'device-lost', message });
    });
    return this.backend.info;
  }

  private need(): LoadedModel {
    if (this.deviceGone) throw new EngineError(`the WebGPU device was lost (${this.deviceGone}); restart the engine`);
    if (!this.lm) throw new EngineError('no model is loaded yet');
    return this.lm;
  }

  private idle(what: string): void {
    if (this.run && (this.run.status === 'running' || this.run.status === 'paused')) throw new EngineError(`stop the training run before ${what}`);
  }

  // ---------------------------------------------------------------- model

  async loadModel(spec: ModelSpec): Promise<ModelInfo> {
    if (!this.backend) throw new EngineError('the engine is not initialised');
    this.idle('loading another model');
    const t0 = performance.now();
    const hitsBefore = this.cache.hitBytes;
    const problemsBefore = this.cache.problems.length;
    const totals = new Map<string, number>();
    const seen = new Set<string>();
    const source = await sourceFor(spec, this.cache);
    let lastEmit = 0;
    const lm = await loadModel(source, (p) => {
      const cached = p.cached === true;
      const first = !seen.has(p.file);
      seen.add(p.file);
      if (!cached) totals.set(p.file, p.loaded);
      const now = performance.now();
      if (first || now - lastEmit > 100 || p.loaded === p.total) {
        lastEmit = now;
        this.emit({ type: 'load-progress', progress: { file: p.file, loaded: p.loaded, total: p.total, cached } });
      }
    });
    const cachedBytes = this.cache.hitBytes - hitsBefore;
    // Bytes that came over the network (a picked local folder downloads nothing).
    const downloaded = spec.kind === 'files' ? 0 : [...totals.values()].reduce((a, b) => a + b, 0);
    this.setActive(null);
    this.lm?.dispose();
    this.lm = lm;
    const c = lm.model.config;
    this.scale = await embeddingScale(lm.model, lm.tokenizer);
    const arch = Array.isArray(lm.rawConfig.architectures) ? String(lm.rawConfig.architectures[0]) : null;
    this.model = {
      ref: refOf(spec),
      origin: lm.origin,
      family: c.family,
      modelType: c.modelType,
      architecture: arch,
      parameterCount: lm.model.parameterCount,
      hiddenSize: c.hiddenSize,
      numLayers: c.numLayers,
      numHeads: c.numHeads,
      vocabSize: c.vocabSize,
      contextLength: c.contextLength,
      weightBytes: lm.model.weightBytes,
      eosTokenId: lm.eosTokenId,
      padTokenId: lm.padTokenId,
      embeddingNorm: this.scale.mean,
      downloadedBytes: downloaded,
      cachedBytes,
      cacheProblems: this.cache.problems.slice(problemsBefore).map(({ file, reason, message }) => ({ file, reason, message })),
      loadSeconds: (performance.now() - t0) / 1000,
    };
    return this.model;
  }

  cacheSummary(): Promise<CacheSummary> {
    return summarizeCache();
  }

  clearCache(): Promise<void> {
    return clearCache();
  }

  // ---------------------------------------------------------------- data and prompt previews

  private tokenViews(ids: number[]): TokenView[] {
    const tok = this.need().tokenizer;
    return ids.map((id) => ({ id, text: tok.token(id) }));
  }

  examplePreview(example: Example, maxLength: number | null, numVirtualTokens: number): ExamplePreview {
    const lm = this.need();
    const budget = exampleBudget(lm.model.config.contextLength, numVirtualTokens, maxLength);
    const p = previewExample(lm.tokenizer, example, lm.eosTokenId, budget);
    const special = new Set([lm.tokenizer.bosTokenId, lm.eosTokenId].filter((x) => x !== null));
    return {
      tokens: p.tokens.map((t) => ({ id: t.id, text: t.piece, role: t.role === 'input' && special.has(t.id) ? 'special' : t.role })),
      inputTokens: p.inputTokens,
      targetTokens: p.targetTokens,
      truncated: p.truncated,
      dropped: p.dropped,
    };
  }

  initTextPreview(text: string, numVirtualTokens: number): InitTextPreview {
    const lm = this.need();
    const own = lm.tokenizer.encode(text);
    const ids = textInitIds(lm.tokenizer, text, numVirtualTokens);
    return {
      textTokens: this.tokenViews(own),
      promptTokens: this.tokenViews(ids),
      mode: own.length === numVirtualTokens ? 'exact' : own.length > numVirtualTokens ? 'cut' : 'repeated',
    };
  }

  dataStats(req: DataStatsRequest): DataStats {
    const lm = this.need();
    const set = buildTrainingSet(lm.tokenizer, req.examples, lm.eosTokenId, lm.padTokenId, {
      numVirtualTokens: req.numVirtualTokens,
      contextLength: lm.model.config.contextLength,
      maxLength: req.maxLength,
      batchSize: req.batchSize,
      epochs: req.epochs,
      valSplit: req.valSplit,
      seed: req.seed,
    });
    return {
      trainCount: set.train.length,
      valCount: set.val.length,
      stepsPerEpoch: set.data.stepsPerEpoch,
      totalSteps: set.data.stepsPerEpoch * req.epochs,
      maxLength: set.maxLength,
      train: set.stats.train,
      val: set.stats.val,
    };
  }

  // ---------------------------------------------------------------- training

  private checkModelFor(run: RunRecord | RunSpec): void {
    const spec = 'spec' in run ? run.spec : run;
    const lm = this.need();
    const want = spec.model;
    const have = this.model?.ref;
    const same = have !== undefined && sameModel(want, have);
    if (!same) throw new EngineError(`this run was trained on ${describeRef(want)}, but ${this.model ? describeRef(this.model.ref) : 'no model'} is loaded`);
    if ('hiddenSize' in run && run.hiddenSize !== lm.model.config.hiddenSize) throw new EngineError(`the loaded model's hidden size ${lm.model.config.hiddenSize} differs from the run's ${run.hiddenSize}`);
  }

  private trainerFor(record: RunRecord, rows: Row[], resume: Awaited<ReturnType<typeof getCheckpoint>>): PromptTrainer {
    const lm = this.need();
    const { data, prompt, train } = record.spec;
    const examples = toExamples(rows, data.mapping, data.name);
    const set = buildTrainingSet(lm.tokenizer, examples, lm.eosTokenId, lm.padTokenId, {
      numVirtualTokens: prompt.numVirtualTokens,
      contextLength: lm.model.config.contextLength,
      maxLength: train.maxLength,
      batchSize: train.batchSize,
      epochs: train.epochs,
      valSplit: train.valSplit,
      seed: train.seed,
    });
    const options: Partial<TrainOptions> = {
      lr: train.lr,
      epochs: train.epochs,
      warmupSteps: train.warmupSteps,
      weightDecay: train.weightDecay,
      patience: train.patience || null,
      evalEvery: train.evalEvery,
      maxSteps: train.maxSteps,
      syncEvery: 1,
      checkpointEvery: CHECKPOINT_EVERY,
      restoreBest: true,
    };
    record.totalSteps = Math.min(set.data.epochs * set.data.stepsPerEpoch, train.maxSteps ?? Infinity);
    return new PromptTrainer(
      lm.model,
      record.initPrompt,
      prompt.numVirtualTokens,
      set.data,
      options,
      resume ? { step: resume.step, prompt: resume.prompt, optimizer: resume.optimizer, bestValLoss: resume.bestValLoss, bestPrompt: resume.bestPrompt, evalsSinceBest: resume.evalsSinceBest } : undefined,
    );
  }

  private begin(record: RunRecord, trainer: PromptTrainer, startStep: number, warnings: string[]): RunStarted {
    const lm = this.need();
    const run = new TrainingRun(
      { emit: (e) => this.emit(e), lm, backend: this.backend?.info.name ?? 'cpu', deviceLost: this.backend?.deviceLost ?? new Promise(() => {}), keepUnsaved: (a) => this.unsaved.set(a.id, a) },
      record,
      trainer,
    );
    this.run = run;
    return { runId: record.id, totalSteps: record.totalSteps, stepsPerEpoch: trainer.totalSteps / record.spec.train.epochs, startStep, history: record.history, warnings };
  }

  async startRun(spec: RunSpec): Promise<RunStarted> {
    this.idle('starting another');
    const lm = this.need();
    this.checkModelFor(spec);
    const init = await initSoftPrompt(lm.model, lm.tokenizer, { kind: spec.prompt.kind, text: spec.prompt.text, numVirtualTokens: spec.prompt.numVirtualTokens, seed: spec.prompt.seed });
    const { rows, testRows, name, mapping } = spec.data;
    const datasetId = await datasetKey(rows, testRows);
    const record: RunRecord = {
      id: newId(),
      createdAt: Date.now(),
      updatedAt: Date.now(),
      spec: { ...spec, data: { name, mapping, datasetId, rowCount: rows.length, testRowCount: testRows?.length ?? 0 } },
      status: 'running',
      statusMessage: '',
      totalSteps: 0,
      stepsDone: 0,
      history: emptyHistory(),
      initPrompt: init.values,
      initIds: init.initIds,
      hiddenSize: lm.model.config.hiddenSize,
      adapterId: null,
      backend: this.backend?.info.name ?? 'cpu',
      checkpointStep: 0,
    };
    const trainer = this.trainerFor(record, rows, undefined);
    await putDataset({ id: datasetId, name, rows, testRows });
    await putRun(record);
    return this.begin(record, trainer, 0, []);
  }

  /** Continues an interrupted run from its last checkpoint (or from the start when it had none). */
  async resumeRun(runId: string): Promise<RunStarted> {
    this.idle('resuming another');
    const record = await getRun(runId);
    if (!record) throw new EngineError(`run ${runId} is not in this browser's storage any more`);
    this.checkModelFor(record);
    const checkpoint = await getCheckpoint(runId);
    const step = checkpoint?.step ?? 0;
    const h = record.history;
    const keep = h.step.findIndex((s) => s > step);
    if (keep >= 0) for (const k of ['step', 'loss', 'lr', 'tokensPerSecond', 'time'] as const) h[k] = h[k].slice(0, keep);
    const keepEval = h.evalStep.findIndex((s) => s > step);
    if (keepEval >= 0) {
      h.evalStep = h.evalStep.slice(0, keepEval);
      h.valLoss = h.valLoss.slice(0, keepEval);
    }
    record.status = 'running';
    record.statusMessage = '';
    record.stepsDone = step;
    record.backend = this.backend?.info.name ?? record.backend;
    const dataset = await getDataset(record.spec.data.datasetId);
    if (!dataset) throw new EngineError(`the data of run "${record.spec.label}" is no longer in this browser's storage`);
    const trainer = this.trainerFor(record, dataset.rows, checkpoint);
    await putRun(record);
    const warnings = checkpoint ? [] : ['no checkpoint had been written yet: the run starts again from step 0'];
    return this.begin(record, trainer, step, warnings);
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

  // ---------------------------------------------------------------- adapters

  private async adapterRecord(id: string): Promise<AdapterRecord> {
    const a = this.unsaved.get(id) ?? (await getAdapter(id));
    if (!a) throw new EngineError(`adapter ${id} is not in this browser's storage any more`);
    return a;
  }

  private promptTensor(a: AdapterRecord): tf.Tensor2D {
    const lm = this.need();
    checkAdapterFits({ config: a.config, promptEmbeddings: a.prompt }, lm.model.config, lm.origin);
    return tf.tensor2d(a.prompt, [a.config.numVirtualTokens, lm.model.config.hiddenSize]);
  }

  private setActive(next: { id: string; prompt: tf.Tensor2D } | null): void {
    this.active?.prompt.dispose();
    this.active = next;
  }

  /** Makes an adapter the one "try it", evaluation and inspection use; no model reload. */
  async setActiveAdapter(id: string | null): Promise<string[]> {
    if (id === null) {
      this.setActive(null);
      return [];
    }
    const lm = this.need();
    const a = await this.adapterRecord(id);
    const warnings = checkAdapterFits({ config: a.config, promptEmbeddings: a.prompt }, lm.model.config, lm.origin);
    this.setActive({ id, prompt: this.promptTensor(a) });
    return warnings;
  }

  /** Reads a PEFT adapter from uploaded files or a zip, checks it against the loaded model and stores it. */
  async importAdapter(uploads: { name: string; bytes: Uint8Array }[], displayName: string): Promise<ImportedAdapter> {
    const files = adapterFilesFromUploads(uploads);
    const adapter = readAdapter(files);
    const lm = this.need();
    const warnings = checkAdapterFits(adapter, lm.model.config, lm.origin);
    const record: AdapterRecord = {
      id: newId(),
      name: displayName,
      createdAt: Date.now(),
      source: 'imported',
      runId: null,
      config: adapter.config,
      model: { kind: lm.origin.kind, id: adapter.config.baseModel ?? lm.origin.id, revision: adapter.config.revision, commit: adapter.config.revision },
      metrics: { steps: null, finalLoss: null, bestValLoss: null, stopReason: null, accuracy: null, backend: null, stepSeconds: null },
      prompt: adapter.promptEmbeddings,
      initPrompt: null,
      initIds: null,
      lossCurve: { step: [], loss: [] },
      importedFrom: uploads.map((u) => u.name),
      warnings,
    };
    await putAdapter(record);
    return { adapterId: record.id, warnings };
  }

  /** Keeps a checkpoint's prompt as an adapter (for an interrupted run the user does not resume). */
  async adapterFromCheckpoint(runId: string): Promise<string> {
    const run = await getRun(runId);
    const checkpoint = await getCheckpoint(runId);
    if (!run || !checkpoint) throw new EngineError('that run has no checkpoint');
    const lm = this.need();
    this.checkModelFor(run);
    const made = makeAdapter(checkpoint.prompt, lm.model.config, lm.origin, { kind: run.spec.prompt.kind, text: run.spec.prompt.text });
    const record: AdapterRecord = {
      id: newId(),
      name: `${run.spec.label} (checkpoint, step ${checkpoint.step})`,
      createdAt: Date.now(),
      source: 'checkpoint',
      runId,
      config: made.config,
      model: lm.origin,
      metrics: { steps: checkpoint.step, finalLoss: run.history.loss.at(-1) ?? null, bestValLoss: checkpoint.bestValLoss, stopReason: 'stopped', accuracy: null, backend: run.backend, stepSeconds: null },
      prompt: checkpoint.prompt,
      initPrompt: run.initPrompt,
      initIds: run.initIds,
      lossCurve: { step: run.history.step.filter((s) => s <= checkpoint.step), loss: run.history.loss.filter((_, i) => run.history.step[i] <= checkpoint.step) },
      importedFrom: null,
      warnings: [],
    };
    await putAdapter(record);
    await putRun({ ...run, status: 'stopped', statusMessage: `kept the checkpoint of step ${checkpoint.step} as an adapter`, adapterId: record.id });
    return record.id;
  }

  /** The PEFT folder (+ train_peft.py and the dataset) as files and as one zip. */
  async exportAdapter(id: string): Promise<ExportedAdapter> {
    const a = await this.adapterRecord(id);
    const adapter: PromptAdapter = { config: a.config, promptEmbeddings: a.prompt };
    const files = adapterFiles(adapter);
    const run = a.runId ? await getRun(a.runId) : undefined;
    const enc = new TextEncoder();
    const facts: Record<string, string | number> = {};
    if (run) {
      const t = run.spec.train;
      facts.dataset = `${run.spec.data.name} (${run.spec.data.rowCount} rows; template "${run.spec.data.mapping.template}")`;
      facts.init = run.spec.prompt.kind + (run.spec.prompt.kind === 'TEXT' ? ` ("${run.spec.prompt.text}")` : ` (seed ${run.spec.prompt.seed})`);
      facts['learning rate'] = t.lr;
      facts['epochs / batch size / max length'] = `${t.epochs} / ${t.batchSize} / ${t.maxLength ?? 'context'}`;
      facts.steps = a.metrics.steps ?? run.stepsDone;
    }
    if (a.metrics.finalLoss !== null) facts['final training loss'] = a.metrics.finalLoss.toFixed(4);
    if (a.metrics.bestValLoss !== null) facts['best validation loss'] = a.metrics.bestValLoss.toFixed(4);
    if (a.metrics.accuracy !== null) facts['held-out accuracy'] = `${(a.metrics.accuracy * 100).toFixed(1)}%`;
    if (a.metrics.backend) facts['trained on'] = `${a.metrics.backend} in the browser`;
    let card = modelCard(a.config, { facts });
    const dataset = run ? await getDataset(run.spec.data.datasetId) : undefined;
    if (run && dataset) {
      const d = { ...run.spec.data, rows: dataset.rows, testRows: dataset.testRows };
      const t = run.spec.train;
      const lines = (rows: Record<string, string>[]) => enc.encode(rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
      files['dataset.jsonl'] = lines(d.rows);
      if (d.testRows?.length) files['dataset.test.jsonl'] = lines(d.testRows);
      const lm = this.lm;
      const maxLength = t.maxLength ?? (lm ? exampleBudget(lm.model.config.contextLength, a.config.numVirtualTokens, null) : 512);
      files['train_peft.py'] = enc.encode(
        trainScript({
          baseModel: a.config.baseModel ?? a.model.id,
          revision: a.config.revision,
          datasetFile: 'dataset.jsonl',
          testFile: d.testRows?.length ? 'dataset.test.jsonl' : null,
          template: d.mapping.template,
          inputColumn: d.mapping.input,
          targetColumn: d.mapping.target,
          taskKind: d.mapping.kind,
          init: run.spec.prompt.kind,
          initText: run.spec.prompt.text,
          numVirtualTokens: a.config.numVirtualTokens,
          lr: t.lr,
          epochs: t.epochs,
          batchSize: t.batchSize,
          maxLength,
          warmupSteps: t.warmupSteps,
          weightDecay: t.weightDecay,
          valSplit: t.valSplit,
          patience: t.patience,
          seed: t.seed,
        }),
      );
      card += [
        '',
        '## Train it further, outside the browser',
        '',
        '`train_peft.py` repeats this run with PEFT + transformers on `dataset.jsonl`:',
        '',
        '```bash',
        'pip install torch "transformers>=4.40" "peft>=0.10" "accelerate>=0.30"',
        'accelerate launch train_peft.py --epochs 10          # or: python train_peft.py',
        'accelerate launch train_peft.py --from-adapter .     # continue from this soft prompt',
        '```',
        '',
      ].join('\n');
    }
    // A built-in model exists nowhere but on this server: ship it beside the adapter, so the
    // Python lines of the card (run from the adapter folder) find it under its name.
    const ref = this.model?.ref;
    if (ref?.kind === 'embedded' && a.model.kind === 'folder' && ref.name === a.model.id) {
      const base = await embeddedFiles(ref.url);
      for (const [name, bytes] of Object.entries(base)) files[`${ref.name}/${name}`] = bytes;
      if (Object.keys(base).length) {
        card += [
          '',
          '## The base model',
          '',
          `\`${ref.name}\` is the prompt-tuning playground's built-in model; its files are in \`${ref.name}/\` beside this card, so the lines above load it when run from this folder.`,
          '',
        ].join('\n');
      }
    }
    files['README.md'] = enc.encode(card);
    const folderName = slug(a.name) || 'soft-prompt';
    return { files, zip: zipFolder(folderName, files), folderName };
  }

  // ---------------------------------------------------------------- evaluate, try, inspect

  private conditionLabel(c: EvalCondition, names: Map<string, string>): string {
    if (c.kind === 'none') return 'no prompt';
    if (c.kind === 'text') return `text prompt "${c.text}"`;
    return `soft prompt: ${names.get(c.adapterId) ?? c.adapterId}`;
  }

  async evaluate(req: EvaluateRequest & { labelTask: boolean }): Promise<EvalResult[]> {
    const lm = this.need();
    if (req.examples.length === 0) throw new EngineError('there are no examples to evaluate on');
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
        const prefix = c.kind === 'text' ? c.text : undefined;
        const V = prompt ? prompt.shape[0] : 0;
        const budget = exampleBudget(lm.model.config.contextLength, V, null);
        const inputs = prefix ? req.examples.map((e) => ({ ...e, input: `${prefix} ${e.input}` })) : req.examples;
        const encoded = inputs.map((e) => encodeExample(lm.tokenizer, e, lm.eosTokenId, budget));
        const loss = await evaluateLoss(lm.model, prompt, sequentialBatches(encoded, 8, lm.padTokenId));
        const labels = req.labelTask
          ? await evaluateLabels(lm.model, lm.tokenizer, prompt, req.examples, lm.eosTokenId, {
              textPrefix: prefix,
              onProgress: (done, total) => this.emit({ type: 'task-progress', task: `Evaluating ${label}`, done, total }),
            })
          : { accuracy: NaN, perLabel: {}, predictions: [] };
        results.push({ condition: c, label, loss, labels, seconds: (performance.now() - t0) / 1000 });
      } finally {
        prompt?.dispose();
      }
    }
    return results;
  }

  async generate(req: GenerateRequest): Promise<GenerateResult> {
    const lm = this.need();
    const t0 = performance.now();
    const ids = lm.tokenizer.encode(req.input);
    const options = { maxNewTokens: req.maxNewTokens, greedy: req.greedy, temperature: req.temperature, topK: 50, seed: req.seed, stopTokenIds: [lm.eosTokenId] };
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
    const lm = this.need();
    const H = lm.model.config.hiddenSize;
    // RANDOM init draws N(0, 1) per value: its rows have norm about sqrt(H).
    const promptNorm = kind === 'RANDOM' ? Math.sqrt(H) : (this.scale?.mean ?? 0);
    return { promptNorm, embeddingNorm: this.scale?.mean ?? 0 };
  }

  memory(): { numTensors: number; numBytes: number } {
    const m = tf.memory();
    return { numTensors: m.numTensors, numBytes: m.numBytes };
  }

  /** Destroys the GPU device as a driver reset would (to test recovery). */
  loseDevice(): void {
    this.backend?.loseDevice();
  }
}

const BASE_MODEL_FILES = ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'README.md'];

/** The files of a built-in model folder that the server has. */
async function embeddedFiles(url: string): Promise<Record<string, Uint8Array>> {
  const out: Record<string, Uint8Array> = {};
  const base = new URL(url, self.location.href);
  for (const name of BASE_MODEL_FILES) {
    try {
      const res = await fetch(new URL(name, base));
      if (res.ok && !(res.headers.get('content-type') ?? '').startsWith('text/html')) out[name] = new Uint8Array(await res.arrayBuffer());
    } catch {
      // missing optional file
    }
  }
  return out;
}

function sameModel(a: ModelRef, b: ModelRef): boolean {
  if (a.kind === 'hub') return b.kind === 'hub' && a.ref === b.ref && a.endpoint === b.endpoint;
  return b.kind !== 'hub' && a.kind === b.kind && a.name === b.name;
}

function describeRef(ref: ModelRef): string {
  return ref.kind === 'hub' ? `Hub model ${ref.ref}` : ref.kind === 'embedded' ? `the built-in model ${ref.name}` : `local folder ${ref.name}`;
}

function slug(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60);
}
