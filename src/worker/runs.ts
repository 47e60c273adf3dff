// The tab's training runs: the numbers the data panel shows for a spec, starting a run (its data
// stored once under its hash, its plan the engine's planRun, as the CLI's), resuming a stored one
// on its stored split from its last checkpoint, and the one TrainingRun in flight.
import type { ColumnMapping } from '../engine/data/examples.ts';
import { datasetHash } from '../engine/data/hash.ts';
import { MethodError } from '../engine/methods/method.ts';
import { initSoftPrompt } from '../engine/prompt/init.ts';
import { planRun, runStats, trainerFor, type RunPlan } from '../engine/run/plan.ts';
import { methodConfigOf, type RunSplit } from '../engine/run/spec.ts';
import { Tuning } from '../engine/methods/index.ts';
import type { TrainCheckpoint } from '../engine/train/trainer.ts';
import * as store from '../store/db.ts';
import { emptyHistory, historyUpTo, type DatasetRecord, type RunRecord, type RunSummaryRecord, type StoredRunSpec } from '../store/records.ts';
import type { Adapters } from './adapters.ts';
import { EngineError } from './engine-error.ts';
import type { ModelSession } from './model-session.ts';
import { CHECKPOINT_EVERY, type DatasetSpec, type DataStats, type DataStatsRequest, type EngineEvent, type Recoverable, type RunSpec, type RunStarted } from './protocol.ts';
import { TrainingRun } from './run.ts';
import type { Suites } from './suites.ts';

/** What a plan reads of a spec: a stored run's, a new run's or the data panel's. */
type PlanSpec = Pick<StoredRunSpec, 'prompt' | 'train' | 'method'> & { data: { name: string; mapping: ColumnMapping } };

/** A run's data as stored: once, under the hash of its rows (the hash its split names). */
async function datasetRecord(data: DatasetSpec): Promise<DatasetRecord> {
  return { id: await datasetHash(data.rows, data.testRows), name: data.name, rows: data.rows, testRows: data.testRows };
}

export class Runs {
  private current: TrainingRun | null = null;

  constructor(
    private readonly session: ModelSession,
    private readonly adapters: Adapters,
    private readonly suites: Suites,
    private readonly emit: (e: EngineEvent) => void,
  ) {}

  /** Throws while a run trains or is paused: `what` must wait for it. */
  idle(what: string): void {
    if (this.busy()) throw new EngineError(`stop the training run before ${what}`);
  }

  private busy(runId?: string): boolean {
    const r = this.current;
    return r !== null && (runId === undefined || r.id === runId) && (r.status === 'running' || r.status === 'paused');
  }

  /** The method of a spec on the loaded model (a config that does not fit is an EngineError naming the field). */
  private tuning(spec: Pick<PlanSpec, 'prompt' | 'method'>): Tuning {
    try {
      return new Tuning(this.session.need().model, methodConfigOf(spec.prompt, spec.method));
    } catch (e) {
      if (e instanceof MethodError) throw new EngineError(e.message);
      throw e;
    }
  }

  /** The plan of a spec on its stored dataset (a resumed run: on its stored split). */
  private plan(spec: PlanSpec, dataset: DatasetRecord, split?: RunSplit): RunPlan {
    const { data, train } = spec;
    return planRun(this.session.need(), {
      rows: dataset.rows,
      testRows: dataset.testRows,
      datasetHash: dataset.id,
      mapping: data.mapping,
      name: data.name,
      // The positions the method takes from the context (virtual tokens, a prefix; LoRA none).
      numVirtualTokens: this.tuning(spec).contextTokens,
      train,
      split,
      checkpointEvery: CHECKPOINT_EVERY,
    });
  }

  /** The data panel's numbers: the plan startRun would make of the same spec. */
  async stats(req: DataStatsRequest): Promise<DataStats> {
    this.session.need();
    const dataset = await datasetRecord(req.data);
    // The page applies the step limit itself (changing it asks for no new stats).
    return runStats(this.plan({ ...req, train: { ...req.train, maxSteps: null } }, dataset));
  }

  private begin(record: RunRecord, plan: RunPlan, resume: TrainCheckpoint | undefined, warnings: string[]): RunStarted {
    const lm = this.session.need();
    const trainer = trainerFor(lm, plan, this.tuning(record.spec), record.initPrompt, resume);
    const backend = this.session.backendName ?? 'cpu';
    this.current = new TrainingRun(
      { emit: this.emit, lm, backend, deviceLost: this.session.deviceLost, keepUnsaved: (a) => this.adapters.keepUnsaved(a), scoreVersion: (a, r) => this.suites.afterRun(a, r) },
      record,
      trainer,
    );
    return { runId: record.id, totalSteps: record.totalSteps, stepsPerEpoch: plan.stepsPerEpoch, startStep: resume?.step ?? 0, history: record.history, warnings };
  }

  async start(spec: RunSpec): Promise<RunStarted> {
    this.idle('starting another');
    const lm = this.session.need();
    this.session.checkModelFor(spec);
    const { rows, testRows, name, mapping } = spec.data;
    const dataset = await datasetRecord(spec.data);
    const method = spec.method && spec.method.method !== 'prompt' ? spec.method : null;
    const stored: StoredRunSpec = { ...spec, method, data: { name, mapping, datasetId: dataset.id, rowCount: rows.length, testRowCount: testRows?.length ?? 0 } };
    const plan = this.plan(stored, dataset);
    // Prompt tuning keeps the ids its prompt starts from (the Inspect panel shows them); every other
    // method starts from its own PEFT init, seeded by the run's seed.
    const init = method ? { values: await this.tuning(stored).init(lm.tokenizer, spec.prompt.seed), initIds: null } : await initSoftPrompt(lm.model, lm.tokenizer, spec.prompt);
    const record: RunRecord = {
      id: store.newId(),
      createdAt: Date.now(),
      updatedAt: Date.now(),
      spec: stored,
      split: plan.split,
      evalEvery: plan.evalEvery,
      status: 'running',
      statusMessage: '',
      totalSteps: plan.totalSteps,
      stepsDone: 0,
      history: emptyHistory(),
      initPrompt: init.values,
      initIds: init.initIds,
      hiddenSize: lm.model.config.hiddenSize,
      adapterId: null,
      backend: this.session.backendName ?? 'cpu',
      checkpointStep: 0,
    };
    await store.putDataset(dataset);
    await store.putRun(record);
    return this.begin(record, plan, undefined, []);
  }

  /** Continues an interrupted run from its last checkpoint (or from the start when it had none), on its stored split. */
  async resume(runId: string): Promise<RunStarted> {
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

  pause(): void {
    this.current?.pause();
  }

  continue(): void {
    this.current?.resume();
  }

  stop(): void {
    this.current?.stop();
  }

  list(): Promise<RunSummaryRecord[]> {
    return store.listRuns();
  }

  async delete(runId: string): Promise<void> {
    if (this.current?.id === runId) this.idle('deleting it');
    await store.deleteRun(runId);
  }

  /** The latest run that ended without its adapter being saved (to offer resuming it), unless it is the one training. */
  async recoverable(): Promise<Recoverable | null> {
    const open = (await store.listRuns()).find((r) => r.adapterId === null && (r.status === 'running' || r.status === 'paused' || r.status === 'interrupted'));
    if (!open || this.busy(open.id)) return null;
    const c = await store.getCheckpoint(open.id);
    return { run: open, checkpoint: c ? { step: c.step, savedAt: c.savedAt } : null };
  }
}
