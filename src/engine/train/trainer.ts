// The training loop of every tuning method: one AdamW step per batch on the method's trainable
// values only (one flat vector, methods/method.ts), linear warmup/decay, validation and early
// stopping, checkpoints, and a stop that keeps the last finite values.
import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM, ForwardOptions } from '../models/model.ts';
import { disposeInjection } from '../methods/method.ts';
import type { Batch } from '../prompt/batch.ts';
import { promptLoss } from '../prompt/prompted.ts';
import { Tuning } from '../methods/index.ts';
import { evaluateLoss } from '../evaluate.ts';
import { AdamW, TORCH_ADAMW, type AdamWState } from './adamw.ts';
import { linearScheduleLr } from './schedule.ts';
import { DEFAULT_TRAIN_SPEC } from '../run/spec.ts';
import { tidy } from '../tidy.ts';
import { Dropout } from '../ops/dropout.ts';

export interface TrainOptions {
  lr: number;
  epochs: number;
  warmupSteps: number;
  weightDecay: number;
  betas: [number, number];
  eps: number;
  /** Evaluations without a better validation loss before stopping; 0 or null: never stop early. */
  patience: number | null;
  /** Validate every N steps; null: at the end of every epoch. */
  evalEvery: number | null;
  /** Read losses back from the device every N steps (each read is a sync point). */
  syncEvery: number;
  /** Emit a checkpoint every N steps; null: never. */
  checkpointEvery: number | null;
  /** At the end, put back the prompt with the best validation loss. */
  restoreBest: boolean;
  /** Stop after this many steps in all (the schedule still spans every epoch). */
  maxSteps: number | null;
  /**
   * Apply the model config's dropout during training steps, as transformers does after
   * model.train() (PEFT's training loop); evaluation and generation never use it.
   */
  dropout: boolean;
  /** Seeds the dropout masks: the same seed and step give the same masks (a resumed run included). */
  seed: number;
}

/** The run defaults of DEFAULT_TRAIN_SPEC; the loop's own knobs (sync, checkpoints) default here. */
export const DEFAULT_TRAIN_OPTIONS: TrainOptions = {
  lr: DEFAULT_TRAIN_SPEC.lr,
  epochs: DEFAULT_TRAIN_SPEC.epochs,
  warmupSteps: DEFAULT_TRAIN_SPEC.warmupSteps,
  weightDecay: DEFAULT_TRAIN_SPEC.weightDecay,
  betas: TORCH_ADAMW.betas,
  eps: TORCH_ADAMW.eps,
  patience: null,
  evalEvery: null,
  syncEvery: 1,
  checkpointEvery: null,
  restoreBest: true,
  maxSteps: DEFAULT_TRAIN_SPEC.maxSteps,
  dropout: DEFAULT_TRAIN_SPEC.dropout,
  seed: DEFAULT_TRAIN_SPEC.seed,
};

/** What the loop trains on: the batches of each epoch, in order, and the validation batches. */
export interface TrainData {
  epochs: number;
  stepsPerEpoch: number;
  batchesForEpoch(epoch: number): Batch[];
  valBatches: Batch[];
}

export interface StepEvent {
  type: 'step';
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  tokens: number;
  tokensPerSecond: number;
  elapsedMs: number;
}
export interface EvalEvent {
  type: 'eval';
  step: number;
  epoch: number;
  valLoss: number;
  bestValLoss: number;
  improved: boolean;
}
export interface CheckpointEvent {
  type: 'checkpoint';
  checkpoint: TrainCheckpoint;
}
export type TrainerEvent = StepEvent | EvalEvent | CheckpointEvent;

/** Everything needed to continue a run exactly where it was. */
export interface TrainCheckpoint {
  /** Optimizer steps taken. */
  step: number;
  /** The trainable values, flat in the method's order (prompt tuning: the soft prompt [V, H]). */
  prompt: Float32Array;
  optimizer: AdamWState;
  bestValLoss: number | null;
  bestPrompt: Float32Array | null;
  evalsSinceBest: number;
}

export type StopReason = 'completed' | 'early_stopping' | 'non_finite' | 'stopped' | 'max_steps';

export interface TrainSummary {
  steps: number;
  stopReason: StopReason;
  message: string;
  finalLoss: number | null;
  bestValLoss: number | null;
  /** Step of the non-finite loss, when stopReason is 'non_finite'. */
  badStep: number | null;
}

export interface TrainControl {
  /** Checked between steps; true ends the run (the prompt so far is kept). */
  shouldStop?(): boolean;
  /** Awaited between steps; resolves when a pause ends. */
  waitWhilePaused?(): Promise<void>;
}

interface Pending {
  step: number;
  epoch: number;
  lr: number;
  tokens: number;
  loss: tf.Scalar;
  /** Non-finite when either the loss or the updated prompt is. */
  health: tf.Scalar;
  /** The values before this step, to fall back to. */
  before: tf.Tensor1D;
}

function batchTokens(batch: Batch, V: number): number {
  return batch.attentionMask.reduce((n, row) => n + row.reduce((a, b) => a + b, 0) + V, 0);
}

export class Trainer {
  /** The trainable values [N]. */
  readonly values: tf.Variable<tf.Rank.R1>;
  private readonly optimizer: AdamW;
  private readonly options: TrainOptions;
  private step: number;
  private bestValLoss: number | null;
  private bestPrompt: tf.Tensor1D | null;
  private evalsSinceBest: number;
  private lastLoss: number | null = null;

  constructor(
    private readonly model: CausalLM,
    readonly tuning: Tuning,
    initial: Float32Array,
    private readonly data: TrainData,
    options: Partial<TrainOptions> = {},
    resume?: TrainCheckpoint,
  ) {
    this.options = { ...DEFAULT_TRAIN_OPTIONS, ...options };
    const n = tuning.size;
    const start = resume?.prompt ?? initial;
    if (start.length !== n) throw new Error(`${tuning.config.method}: ${start.length} trainable values given, its tensors hold ${n}`);
    this.values = tf.variable(tf.tensor1d(start), true, undefined, 'float32') as tf.Variable<tf.Rank.R1>;
    this.optimizer = new AdamW([n], { betas: this.options.betas, eps: this.options.eps, weightDecay: this.options.weightDecay }, resume?.optimizer);
    this.step = resume?.step ?? 0;
    this.bestValLoss = resume?.bestValLoss ?? null;
    this.bestPrompt = resume?.bestPrompt ? tf.keep(tf.tensor1d(resume.bestPrompt)) : null;
    this.evalsSinceBest = resume?.evalsSinceBest ?? 0;
  }

  get totalSteps(): number {
    return this.data.epochs * this.data.stepsPerEpoch;
  }

  get stepsDone(): number {
    return this.step;
  }

  async run(listener: (event: TrainerEvent) => void = () => {}, control: TrainControl = {}): Promise<TrainSummary> {
    const o = this.options;
    const start = performance.now();
    const pending: Pending[] = [];
    let tokensSinceSync = 0;
    let syncStart = performance.now();
    const finish = (stopReason: StopReason, message: string, badStep: number | null = null): TrainSummary => {
      for (const p of pending.splice(0)) disposePending(p);
      if (o.restoreBest && this.bestPrompt && stopReason !== 'non_finite') this.values.assign(this.bestPrompt);
      return { steps: this.step, stopReason, message, finalLoss: this.lastLoss, bestValLoss: this.bestValLoss, badStep };
    };
    // Reads the queued losses; returns the step whose loss (or update) was not finite, if any.
    const sync = async (): Promise<Pending | null> => {
      const batch = pending.splice(0);
      const values = await Promise.all(batch.map(async (p) => [(await p.loss.data())[0], (await p.health.data())[0]]));
      const elapsed = (performance.now() - syncStart) / 1000;
      let bad: Pending | null = null;
      batch.forEach((p, i) => {
        const [loss, health] = values[i];
        if (!bad && Number.isFinite(loss) && Number.isFinite(health)) {
          this.lastLoss = loss;
          listener({ type: 'step', step: p.step, epoch: p.epoch, loss, lr: p.lr, tokens: p.tokens, tokensPerSecond: tokensSinceSync / Math.max(elapsed, 1e-9), elapsedMs: performance.now() - start });
        } else if (!bad) {
          bad = p;
          this.values.assign(p.before);
        }
      });
      for (const p of batch) disposePending(p);
      tokensSinceSync = 0;
      syncStart = performance.now();
      return bad;
    };

    const firstEpoch = Math.floor(this.step / this.data.stepsPerEpoch);
    for (let epoch = firstEpoch; epoch < this.data.epochs; epoch++) {
      const batches = this.data.batchesForEpoch(epoch);
      for (let b = this.step - epoch * this.data.stepsPerEpoch; b < batches.length; b++) {
        await control.waitWhilePaused?.();
        if (control.shouldStop?.()) {
          const bad = await sync();
          if (bad) return finish('non_finite', nonFiniteMessage(bad.step), bad.step);
          return finish('stopped', `stopped by the user after step ${this.step}`);
        }
        const lr = linearScheduleLr(o.lr, this.step, o.warmupSteps, this.totalSteps);
        const before = tf.keep(tf.clone(this.values)) as tf.Tensor1D;
        const forward = o.dropout ? { dropout: new Dropout(o.seed, this.step) } : {};
        const { loss, grad } = tidy(() => this.lossAndGradient(batches[b], forward));
        this.optimizer.apply(this.values, grad, lr);
        grad.dispose();
        const health = tf.tidy(() => tf.add(loss, tf.mul(tf.sum(this.values), 0))) as tf.Scalar;
        this.step += 1;
        const tokens = batchTokens(batches[b], this.tuning.virtualTokens);
        tokensSinceSync += tokens;
        pending.push({ step: this.step, epoch, lr, tokens, loss, health, before });

        const endOfEpoch = b === batches.length - 1;
        const evalNow = this.data.valBatches.length > 0 && (o.evalEvery ? this.step % o.evalEvery === 0 : endOfEpoch);
        const checkpointNow = o.checkpointEvery !== null && this.step % o.checkpointEvery === 0;
        const lastStep = o.maxSteps !== null && this.step >= o.maxSteps;
        if (pending.length >= o.syncEvery || evalNow || checkpointNow || endOfEpoch || lastStep) {
          const bad = await sync();
          if (bad) return finish('non_finite', nonFiniteMessage(bad.step), bad.step);
        }
        if (evalNow) {
          const valLoss = await this.validationLoss();
          const improved = this.bestValLoss === null || valLoss < this.bestValLoss;
          if (improved) {
            this.bestValLoss = valLoss;
            this.bestPrompt?.dispose();
            this.bestPrompt = tf.keep(tf.clone(this.values)) as tf.Tensor1D;
            this.evalsSinceBest = 0;
          } else this.evalsSinceBest += 1;
          listener({ type: 'eval', step: this.step, epoch, valLoss, bestValLoss: this.bestValLoss as number, improved });
          if (o.patience && this.evalsSinceBest >= o.patience) {
            return finish('early_stopping', `validation loss did not improve for ${o.patience} evaluations; best ${(this.bestValLoss as number).toFixed(4)}`);
          }
        }
        if (checkpointNow) listener({ type: 'checkpoint', checkpoint: await this.checkpoint() });
        if (lastStep) return finish('max_steps', `reached ${o.maxSteps} steps`);
        // Let messages (pause, stop) reach a worker between steps.
        await new Promise((r) => setTimeout(r, 0));
      }
    }
    return finish('completed', `completed ${this.data.epochs} epoch(s), ${this.step} steps`);
  }

  async checkpoint(): Promise<TrainCheckpoint> {
    return {
      step: this.step,
      prompt: (await this.values.data()) as Float32Array,
      optimizer: await this.optimizer.state(),
      bestValLoss: this.bestValLoss,
      bestPrompt: this.bestPrompt ? ((await this.bestPrompt.data()) as Float32Array) : null,
      evalsSinceBest: this.evalsSinceBest,
    };
  }

  /** The trained values, flat (prompt tuning: the soft prompt [V, H]). */
  async promptValues(): Promise<Float32Array> {
    return (await this.values.data()) as Float32Array;
  }

  /** The loss on a batch and its gradient for the values; no gradient is taken for any weight. */
  private lossAndGradient(batch: Batch, forward: ForwardOptions): { loss: tf.Scalar; grad: tf.Tensor1D } {
    const f = (v: tf.Tensor) => promptLoss(this.model, this.tuning.inject(v as tf.Tensor1D, forward.dropout), batch, forward);
    const { value, grad } = tf.valueAndGrad(f)(this.values);
    return { loss: value as tf.Scalar, grad: grad as tf.Tensor1D };
  }

  private async validationLoss(): Promise<number> {
    const injected = this.tuning.injectValues((await this.values.data()) as Float32Array);
    try {
      return await evaluateLoss(this.model, injected, this.data.valBatches);
    } finally {
      disposeInjection(injected);
    }
  }

  dispose(): void {
    this.values.dispose();
    this.optimizer.dispose();
    this.bestPrompt?.dispose();
  }
}

function nonFiniteMessage(step: number): string {
  return `loss or trained values became NaN/Inf at step ${step}; stopped and kept the values from before that step`;
}

/**
 * Prompt tuning's trainer, by its soft prompt: `initial` [V, H] row-major. The same loop as any
 * method (Trainer); kept for the callers that train a soft prompt only.
 */
export class PromptTrainer extends Trainer {
  constructor(model: CausalLM, initial: Float32Array, numVirtualTokens: number, data: TrainData, options: Partial<TrainOptions> = {}, resume?: TrainCheckpoint) {
    const H = model.config.hiddenSize;
    if (initial.length !== numVirtualTokens * H) throw new Error(`soft prompt has ${initial.length} values, expected ${numVirtualTokens} x ${H}`);
    super(model, new Tuning(model, { method: 'prompt', numVirtualTokens, init: 'RANDOM', initText: null }), initial, data, options, resume);
  }
}

function disposePending(p: Pending): void {
  p.loss.dispose();
  p.health.dispose();
  p.before.dispose();
}
