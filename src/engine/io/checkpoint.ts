import type { FloatTensor, RawTensor } from './safetensors.ts';
import { readSafetensorsStream, type StreamStats, type StreamedSafetensors } from './safetensors-stream.ts';
import { SourceError, describeSource, parseJsonFile, type ModelSource, type ProgressCallback } from './source.ts';

/** Named weights, possibly spread over several shard files, in the dtype the checkpoint stores. */
export interface WeightStore {
  names(): string[];
  has(name: string): boolean;
  shape(name: string): number[];
  /** The stored bytes and dtype, not widened: what a model keeps on the device. */
  raw(name: string): RawTensor;
  /** Float32 values (F16/BF16 widened), for small tensors and tests. */
  get(name: string): FloatTensor;
  /** The model holds this tensor now: the store may drop its bytes (a later raw/get may throw). */
  release(name: string): void;
}

/** A store filled by streaming the checkpoint's files; says what each file's read allocated. */
export interface StreamedWeightStore extends WeightStore {
  /** Per weights file, in load order. */
  readonly files: { file: string; stats: StreamStats }[];
  /** Bytes of tensors not yet released. */
  heldBytes(): number;
}

const SINGLE = 'model.safetensors';
const INDEX = 'model.safetensors.index.json';

function storeOf(shards: Map<string, StreamedSafetensors>, where: Map<string, string>): StreamedWeightStore {
  const shardOf = (name: string) => {
    const file = where.get(name);
    if (!file) throw new SourceError(`checkpoint has no tensor "${name}"`);
    return shards.get(file) as StreamedSafetensors;
  };
  return {
    names: () => [...where.keys()],
    has: (name) => where.has(name),
    shape: (name) => shardOf(name).entry(name).shape,
    raw: (name) => shardOf(name).raw(name),
    get: (name) => shardOf(name).get(name),
    release: (name) => shardOf(name).release(name),
    files: [...shards].map(([file, s]) => ({ file, stats: s.stats })),
    heldBytes: () => [...shards.values()].reduce((a, s) => a + s.heldBytes(), 0),
  };
}

/** Streams one weights file; null when the source does not have it. */
async function readShard(source: ModelSource, file: string, onProgress?: ProgressCallback): Promise<StreamedSafetensors | null> {
  const stream = await source.tryOpen(file, onProgress);
  return stream && readSafetensorsStream(stream, file);
}

/**
 * Reads `model.safetensors`, or the shards listed by `model.safetensors.index.json`, as their
 * bytes arrive: each tensor lands in a buffer of its own, never a whole file in one buffer.
 */
export async function loadWeights(source: ModelSource, onProgress?: ProgressCallback): Promise<StreamedWeightStore> {
  const single = await readShard(source, SINGLE, onProgress);
  if (single) return storeOf(new Map([[SINGLE, single]]), new Map(single.names().map((n) => [n, SINGLE])));
  const indexBytes = await source.tryRead(INDEX);
  if (!indexBytes) {
    const hasBin = (await source.tryRead('pytorch_model.bin.index.json')) !== null;
    throw new SourceError(
      `${describeSource(source)} has neither ${SINGLE} nor ${INDEX}` +
        (hasBin ? ' (it only has pytorch_model.bin shards: pickled checkpoints are not read; pick a revision with safetensors weights)' : ''),
    );
  }
  const index = parseJsonFile(indexBytes, INDEX) as { weight_map?: unknown };
  if (!index || typeof index.weight_map !== 'object' || index.weight_map === null || Array.isArray(index.weight_map)) throw new SourceError(`${INDEX}: missing "weight_map" object`);
  const where = new Map<string, string>();
  for (const [name, file] of Object.entries(index.weight_map as Record<string, unknown>)) {
    if (typeof file !== 'string' || !file || file.includes('..') || file.startsWith('/'))
      throw new SourceError(`${INDEX}: weight_map["${name}"] must be a shard file name, got ${JSON.stringify(file)}`);
    where.set(name, file);
  }
  if (where.size === 0) throw new SourceError(`${INDEX}: "weight_map" lists no tensors`);
  // Shards one after another: each is complete (and checked) before the next download starts.
  const shards = new Map<string, StreamedSafetensors>();
  for (const file of new Set(where.values())) {
    const parsed = await readShard(source, file, onProgress);
    if (!parsed) throw new SourceError(`${INDEX} lists shard ${file}, which ${describeSource(source)} does not have`);
    // Tensors the index does not map to this shard are never read: drop their bytes now.
    for (const name of parsed.names()) if (where.get(name) !== file) parsed.release(name);
    shards.set(file, parsed);
  }
  for (const [name, file] of where) {
    if (!(shards.get(file) as StreamedSafetensors).has(name)) throw new SourceError(`${INDEX} puts "${name}" in ${file}, but that shard has no such tensor`);
  }
  return storeOf(shards, where);
}
