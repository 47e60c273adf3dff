// One training run inside the worker: the engine's Trainer (any method) plus what the tab needs
// around it: pause/resume/stop, events for the charts, and IndexedDB writes (checkpoint every few
// steps, the adapter at the end) so a reload, crash or device loss never loses the trained values.
// It also measures what the method comparison shows: step time, peak memory, the adapter's size.
import * as tf from '@tensorflow/tfjs-core';
import type { LoadedModel } from '../engine/load.ts';
import type { Trainer, TrainCheckpoint, TrainSummary } from '../engine/train/trainer.ts';
import { finishRun, putCheckpoint, putRunState } from '../store/db.ts';
import { cloneHistory, newAdapterRecord, type AdapterRecord, type CheckpointRecord, type RunCost, type RunRecord } from '../store/records.ts';
import { adapterBytes, exportOf, recordConfig } from './method-records.ts';
import type { BackendName, EngineEvent, RunEnd, RunStatus } from './protocol.ts';

export interface RunContext {
  emit(e: EngineEvent): void;
  lm: LoadedModel;
  backend: BackendName;
  /** Rejects when the GPU device is lost, so a run never hangs on a dead device. */
  deviceLost: Promise<string>;
  /** Holds an adapter IndexedDB refused, so it can still be used and downloaded. */
  keepUnsaved(adapter: AdapterRecord): void;
  /** Scores the run's adapter as a new version of its task; what to add to the run's message. */
  scoreVersion(adapter: AdapterRecord, run: RunRecord): Promise<string>;
}

export class TrainingRun {
  private paused = false;
  private stopRequested = false;
  private wake: (() => void) | null = null;
  private writes: Promise<void> = Promise.resolve();
  private readonly timeOffset: number;
  private runStart = performance.now();
  /** The largest tf.memory().numBytes seen after a step (the trainer's values, moments and the step's tensors). */
  private peakBytes = tf.memory().numBytes;
  readonly done: Promise<RunEnd>;

  constructor(
    private readonly ctx: RunContext,
    readonly record: RunRecord,
    private readonly trainer: Trainer,
  ) {
    this.timeOffset = record.history.time.at(-1) ?? 0;
    this.done = this.loop();
  }

  get id(): string {
    return this.record.id;
  }

  get status(): RunStatus {
    return this.record.status;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.wake?.();
  }

  stop(): void {
    this.stopRequested = true;
    this.resume();
  }

  private queueWrite(fn: () => Promise<void>): void {
    this.writes = this.writes
      .then(fn)
      .catch((e: Error) =>
        this.ctx.emit({ type: 'warning', message: `Could not save the checkpoint in this browser (${e.message}); training goes on, but a reload now would lose the steps since the last saved one.` }),
      );
  }

  private async saveCheckpoint(c: TrainCheckpoint): Promise<void> {
    const checkpoint: CheckpointRecord = {
      runId: this.id,
      step: c.step,
      savedAt: Date.now(),
      prompt: c.prompt,
      optimizer: c.optimizer,
      bestValLoss: c.bestValLoss,
      bestPrompt: c.bestPrompt,
      evalsSinceBest: c.evalsSinceBest,
    };
    this.record.checkpointStep = c.step;
    const snapshot: RunRecord = { ...this.record, history: cloneHistory(this.record.history) };
    this.queueWrite(async () => {
      await putCheckpoint(checkpoint, snapshot);
      this.ctx.emit({ type: 'checkpoint', runId: this.id, step: c.step, savedAt: checkpoint.savedAt });
    });
  }

  private setStatus(status: RunStatus, message = ''): void {
    this.record.status = status;
    this.record.statusMessage = message;
    this.ctx.emit({ type: 'run-state', runId: this.id, status });
  }

  private async waitWhilePaused(): Promise<void> {
    if (!this.paused || this.stopRequested) return;
    const pausedAt = performance.now();
    this.setStatus('paused', `paused at step ${this.trainer.stepsDone}`);
    await this.saveCheckpoint(await this.trainer.checkpoint());
    while (this.paused && !this.stopRequested) await new Promise<void>((r) => (this.wake = r));
    this.wake = null;
    this.runStart += performance.now() - pausedAt; // paused time is not training time
    if (!this.stopRequested) {
      this.setStatus('running');
      const snapshot = { ...this.record, history: cloneHistory(this.record.history) };
      this.queueWrite(() => putRunState(snapshot));
    }
  }

  private async loop(): Promise<RunEnd> {
    const h = this.record.history;
    let summary: TrainSummary;
    try {
      const lost = this.ctx.deviceLost.then((m) => Promise.reject(new DeviceLostError(m)));
      lost.catch(() => {});
      summary = await Promise.race([
        this.trainer.run(
          (e) => {
            if (e.type === 'step') {
              const seconds = this.timeOffset + (performance.now() - this.runStart) / 1000;
              h.step.push(e.step);
              h.loss.push(e.loss);
              h.lr.push(e.lr);
              h.tokensPerSecond.push(e.tokensPerSecond);
              h.time.push(seconds);
              this.record.stepsDone = e.step;
              const mem = tf.memory();
              this.peakBytes = Math.max(this.peakBytes, mem.numBytes);
              this.ctx.emit({
                type: 'step',
                runId: this.id,
                step: e.step,
                epoch: e.epoch,
                loss: e.loss,
                lr: e.lr,
                tokensPerSecond: e.tokensPerSecond,
                seconds,
                numTensors: mem.numTensors,
                numBytes: mem.numBytes,
              });
            } else if (e.type === 'eval') {
              h.evalStep.push(e.step);
              h.valLoss.push(e.valLoss);
              this.ctx.emit({ type: 'eval', runId: this.id, step: e.step, valLoss: e.valLoss, bestValLoss: e.bestValLoss, improved: e.improved });
            } else {
              void this.saveCheckpoint(e.checkpoint);
            }
          },
          { shouldStop: () => this.stopRequested, waitWhilePaused: () => this.waitWhilePaused() },
        ),
        lost,
      ]);
    } catch (e) {
      // A lost device often shows first as a failed read; give its own notice a moment to arrive.
      const lost = e instanceof DeviceLostError ? e.message : await Promise.race([this.ctx.deviceLost, new Promise<null>((r) => setTimeout(() => r(null), 500))]);
      const message = lost ? `WebGPU device lost (${lost})` : `training failed: ${(e as Error).message}`;
      this.setStatus('interrupted', message);
      if (!lost) {
        // The prompt is still readable: checkpoint it, so nothing since the last checkpoint is lost.
        await this.trainer
          .checkpoint()
          .then((c) => this.saveCheckpoint(c))
          .catch(() => undefined);
      }
      const snapshot = { ...this.record, history: cloneHistory(this.record.history) };
      this.queueWrite(() => putRunState(snapshot));
      await this.writes;
      if (!lost) this.trainer.dispose();
      const end: RunEnd = { runId: this.id, status: 'interrupted', stopReason: null, message, adapterId: null, steps: this.record.stepsDone };
      this.ctx.emit({ type: 'run-end', end });
      return end;
    }
    const values = await this.trainer.promptValues();
    this.trainer.dispose();
    const status: RunStatus = summary.stopReason === 'stopped' ? 'stopped' : summary.stopReason === 'non_finite' ? 'failed' : 'completed';
    // Stored as ended, but told to the page only once the new version is scored (run-end below):
    // until then the run still holds the model, and the next one waits.
    this.record.status = status;
    this.record.statusMessage = summary.message;
    const adapter = this.adapterRecord(values, summary);
    this.record.adapterId = adapter.id;
    this.record.cost = this.cost(adapter);
    await this.writes;
    let message = summary.message;
    try {
      await finishRun({ ...this.record, history: cloneHistory(h) }, adapter);
    } catch (e) {
      // Never lose the trained prompt: keep it in the worker, where it can be used and downloaded.
      this.ctx.keepUnsaved(adapter);
      message += ` — but this browser refused to store the adapter (${(e as Error).message}): download it now`;
      this.ctx.emit({
        type: 'warning',
        message: `The trained soft prompt could not be saved in this browser (${(e as Error).message}). It stays available until the page closes: download it from the Train tab.`,
      });
    }
    if (status !== 'failed') {
      // A suite score never fails the run: the adapter is stored, and can be scored again on demand.
      message += await this.ctx.scoreVersion(adapter, this.record).catch((e: Error) => `; it could not be scored on its task's suite (${e.message})`);
    }
    const end: RunEnd = { runId: this.id, status, stopReason: summary.stopReason, message, adapterId: adapter.id, steps: summary.steps };
    this.ctx.emit({ type: 'run-state', runId: this.id, status });
    this.ctx.emit({ type: 'run-end', end });
    return end;
  }

  /** What the comparison shows of this run: its method's size, the adapter file, step time, peak memory, last validation loss. */
  private cost(adapter: AdapterRecord): RunCost {
    const h = this.record.history;
    return {
      trainableParams: this.trainer.tuning.size,
      adapterBytes: adapterBytes(exportOf(adapter, this.ctx.lm.model)),
      stepSeconds: adapter.metrics.stepSeconds,
      peakBytes: this.peakBytes,
      finalValLoss: h.valLoss.at(-1) ?? null,
    };
  }

  private adapterRecord(values: Float32Array, summary: TrainSummary): AdapterRecord {
    const { lm } = this.ctx;
    const spec = this.record.spec;
    const h = this.record.history;
    const n = h.time.length;
    return newAdapterRecord({
      name: spec.label,
      source: 'trained',
      runId: this.id,
      task: spec.data.name,
      ...recordConfig(lm, spec.method, values, spec.prompt),
      model: lm.origin,
      metrics: {
        steps: summary.steps,
        finalLoss: summary.finalLoss,
        bestValLoss: summary.bestValLoss,
        stopReason: summary.stopReason,
        backend: this.ctx.backend,
        stepSeconds: n > 1 ? (h.time[n - 1] - h.time[0]) / (n - 1) : null,
        trainableParams: this.trainer.tuning.size,
      },
      prompt: values,
      initPrompt: this.record.initPrompt,
      initIds: this.record.initIds,
      lossCurve: { step: [...h.step], loss: [...h.loss] },
    });
  }
}

class DeviceLostError extends Error {}
