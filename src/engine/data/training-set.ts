// Examples → what the trainer consumes: encoded, split into train/validation, batched per epoch,
// with a report of lengths and of every example that had to be truncated.
import type { Batch } from '../prompt/batch.ts';
import type { TrainData } from '../train/trainer.ts';
import type { TextTokenizer } from '../tokenizer.ts';
import { epochBatches, sequentialBatches, splitIndices } from './batches.ts';
import { encodeExample, lengthStats, type EncodedExample, type LengthStats } from './encode.ts';
import { DataError } from './parse.ts';
import type { Example } from './examples.ts';

export interface TrainingSetOptions {
  numVirtualTokens: number;
  contextLength: number;
  /** Longest example in tokens (input + target), virtual tokens excluded; null: what the context allows. */
  maxLength: number | null;
  batchSize: number;
  epochs: number;
  valSplit: number;
  seed: number;
  /** Row indices to train and validate on (a stored split); without it the seeded split of valSplit. */
  split?: { train: number[]; val: number[] };
}

export interface TrainingSet {
  data: TrainData;
  train: Example[];
  val: Example[];
  /** Indices of train and val in the examples given. */
  trainIds: number[];
  valIds: number[];
  /** The token budget each example was fitted into. */
  maxLength: number;
  stats: { train: LengthStats; val: LengthStats };
}

/** Token budget of one example: the user's max length, capped by the context left after the virtual tokens. */
export function exampleBudget(contextLength: number, numVirtualTokens: number, maxLength: number | null): number {
  const room = contextLength - numVirtualTokens;
  if (room < 2) throw new DataError(`${numVirtualTokens} virtual tokens leave ${room} of the model's ${contextLength} context positions: too few for an input and a target`);
  return maxLength ? Math.min(maxLength, room) : room;
}

export function buildTrainingSet(tokenizer: TextTokenizer, examples: Example[], eosTokenId: number, padTokenId: number, o: TrainingSetOptions): TrainingSet {
  if (examples.length === 0) throw new DataError('the dataset has no examples');
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw new DataError(`batch size must be a positive integer, got ${o.batchSize}`);
  if (!Number.isInteger(o.epochs) || o.epochs < 1) throw new DataError(`epochs must be a positive integer, got ${o.epochs}`);
  if (!(o.valSplit >= 0 && o.valSplit < 1)) throw new DataError(`validation split must be in [0, 1), got ${o.valSplit}`);
  const maxLength = exampleBudget(o.contextLength, o.numVirtualTokens, o.maxLength);
  const ids = o.split ?? splitIndices(examples.length, o.valSplit, o.seed);
  for (const i of [...ids.train, ...ids.val])
    if (!(Number.isInteger(i) && i >= 0 && i < examples.length)) throw new DataError(`the stored split names row ${i}, but the dataset has ${examples.length} rows`);
  const train = ids.train.map((i) => examples[i]);
  const val = ids.val.map((i) => examples[i]);
  if (train.length === 0) throw new DataError('the split leaves no training examples');
  const encode = (list: Example[]) => list.map((e) => encodeExample(tokenizer, e, eosTokenId, maxLength));
  const trainEncoded: EncodedExample[] = encode(train);
  const valEncoded = encode(val);
  const valBatches: Batch[] = sequentialBatches(valEncoded, o.batchSize, padTokenId);
  return {
    data: {
      epochs: o.epochs,
      stepsPerEpoch: Math.ceil(trainEncoded.length / o.batchSize),
      batchesForEpoch: (epoch) => epochBatches(trainEncoded, o.batchSize, padTokenId, o.seed, epoch),
      valBatches,
    },
    train,
    val,
    trainIds: ids.train,
    valIds: ids.val,
    maxLength,
    stats: { train: lengthStats(trainEncoded), val: lengthStats(valEncoded) },
  };
}
