import { IGNORE_INDEX, type Batch } from '../prompt/batch.ts';
import { Rng } from '../random.ts';
import type { EncodedExample } from './encode.ts';

/** Right-pads examples into one batch (pad id, mask 0, label -100), so positions of real tokens never shift. */
export function collate(examples: EncodedExample[], padTokenId: number): Batch {
  const T = Math.max(...examples.map((e) => e.inputIds.length));
  const pad = (row: number[], value: number) => [...row, ...new Array<number>(T - row.length).fill(value)];
  return {
    inputIds: examples.map((e) => pad(e.inputIds, padTokenId)),
    attentionMask: examples.map((e) => pad(new Array<number>(e.inputIds.length).fill(1), 0)),
    labels: examples.map((e) => pad(e.labels, IGNORE_INDEX)),
  };
}

/** Batches in order (no shuffling), e.g. for validation. */
export function sequentialBatches(examples: EncodedExample[], batchSize: number, padTokenId: number): Batch[] {
  const out: Batch[] = [];
  for (let i = 0; i < examples.length; i += batchSize) out.push(collate(examples.slice(i, i + batchSize), padTokenId));
  return out;
}

/** One epoch's batches, shuffled by a generator seeded from (seed, epoch) so a resumed run sees the same order. */
export function epochBatches(examples: EncodedExample[], batchSize: number, padTokenId: number, seed: number, epoch: number): Batch[] {
  const order = new Rng(seed * 1000003 + epoch).shuffle(examples.map((_, i) => i));
  return sequentialBatches(
    order.map((i) => examples[i]),
    batchSize,
    padTokenId,
  );
}

/**
 * Seeded train/validation split of n items by index; `fraction` of them (at least 1 when > 0) go
 * to validation. Both lists are in ascending order. train_peft.py receives these indices.
 */
export function splitIndices(n: number, fraction: number, seed: number): { train: number[]; val: number[] } {
  const all = Array.from({ length: n }, (_, i) => i);
  if (!(fraction > 0) || n < 2) return { train: all, val: [] };
  const order = new Rng(seed).shuffle(all.slice());
  const nVal = Math.min(n - 1, Math.max(1, Math.round(n * fraction)));
  const valSet = new Set(order.slice(0, nVal));
  return { train: all.filter((i) => !valSet.has(i)), val: all.filter((i) => valSet.has(i)) };
}

/** Seeded train/validation split; `fraction` of the items (at least 1 when > 0) go to validation. */
export function splitTrainVal<T>(items: T[], fraction: number, seed: number): { train: T[]; val: T[] } {
  const { train, val } = splitIndices(items.length, fraction, seed);
  return { train: train.map((i) => items[i]), val: val.map((i) => items[i]) };
}
