// Planning a run: a spec and a dataset become the trainer's data and options. The worker (the
// tab) and the CLI both call this, so "the same run" is the same run in both.
import { toExamples, type ColumnMapping } from '../data/examples.ts';
import type { Row } from '../data/parse.ts';
import type { LengthStats } from '../data/encode.ts';
import { buildTrainingSet, type TrainingSet } from '../data/training-set.ts';
import type { LoadedModel } from '../load.ts';
import { Trainer, type TrainCheckpoint, type TrainOptions } from '../train/trainer.ts';
import type { Tuning } from '../methods/index.ts';
import { evalEveryFor, type RunSplit, type TrainSpec } from './spec.ts';

export interface RunPlan {
  set: TrainingSet;
  options: Partial<TrainOptions>;
  /** Steps the run takes: all epochs, or the step limit. */
  totalSteps: number;
  stepsPerEpoch: number;
  /** The resolved validation cadence (steps). */
  evalEvery: number;
  split: RunSplit;
}

export interface PlanInput {
  /** The dataset's rows, its test rows and their hash (datasetHash). */
  rows: Row[];
  testRows: Row[] | null;
  datasetHash: string;
  mapping: ColumnMapping;
  /** Named in errors ("complaint", "my.csv"). */
  name: string;
  /** Positions the method takes from the context (virtual tokens, a prefix), left out of each example's budget. */
  numVirtualTokens: number;
  train: TrainSpec;
  /** A run's stored split (resume): used instead of splitting again. */
  split?: RunSplit;
  /** How the host reads progress back: sync points and checkpoints (no effect on the numbers). */
  syncEvery?: number;
  checkpointEvery?: number | null;
}

export function planRun(lm: LoadedModel, p: PlanInput): RunPlan {
  if (p.split && p.split.datasetHash !== p.datasetHash) throw new Error(`the run's split was made for dataset ${p.split.datasetHash}, not for ${p.datasetHash}`);
  const examples = toExamples(p.rows, p.mapping, p.name);
  const t = p.train;
  const set = buildTrainingSet(lm.tokenizer, examples, lm.eosTokenId, lm.padTokenId, {
    numVirtualTokens: p.numVirtualTokens,
    contextLength: lm.model.config.contextLength,
    maxLength: t.maxLength,
    batchSize: t.batchSize,
    epochs: t.epochs,
    valSplit: t.valSplit,
    seed: t.seed,
    ...(p.split ? { split: { train: p.split.train, val: p.split.validation } } : {}),
  });
  const stepsPerEpoch = set.data.stepsPerEpoch;
  const evalEvery = evalEveryFor(stepsPerEpoch, t.evalEvery);
  const options: Partial<TrainOptions> = {
    lr: t.lr,
    epochs: t.epochs,
    warmupSteps: t.warmupSteps,
    weightDecay: t.weightDecay,
    patience: t.patience || null,
    evalEvery,
    maxSteps: t.maxSteps,
    // Runs stored before dropout existed have no field: they get the default.
    dropout: t.dropout ?? true,
    seed: t.seed,
    restoreBest: true,
    syncEvery: p.syncEvery ?? 1,
    checkpointEvery: p.checkpointEvery ?? null,
  };
  return {
    set,
    options,
    totalSteps: Math.min(t.epochs * stepsPerEpoch, t.maxSteps ?? Infinity),
    stepsPerEpoch,
    evalEvery,
    split: { datasetHash: p.datasetHash, train: set.trainIds, validation: set.valIds, test: (p.testRows ?? []).map((_, i) => i) },
  };
}

/** What a plan trains on, in numbers: the tab's data statistics and the CLI's train report. */
export interface RunStats {
  trainCount: number;
  valCount: number;
  stepsPerEpoch: number;
  /** Steps the run takes: all epochs, or the step limit. */
  totalSteps: number;
  /** The token budget each example is fitted into (virtual tokens excluded). */
  maxLength: number;
  train: LengthStats;
  val: LengthStats;
  /** Examples (training and validation) longer than maxLength, whose input loses its start. */
  truncated: number;
}

export function runStats(plan: RunPlan): RunStats {
  const { set } = plan;
  return {
    trainCount: set.train.length,
    valCount: set.val.length,
    stepsPerEpoch: plan.stepsPerEpoch,
    totalSteps: plan.totalSteps,
    maxLength: set.maxLength,
    train: set.stats.train,
    val: set.stats.val,
    truncated: set.stats.train.truncated + set.stats.val.truncated,
  };
}

/** The trainer for a plan, from the method's initial values or a checkpoint. */
export function trainerFor(lm: LoadedModel, plan: RunPlan, tuning: Tuning, initial: Float32Array, resume?: TrainCheckpoint): Trainer {
  return new Trainer(lm.model, tuning, initial, plan.set.data, plan.options, resume);
}
