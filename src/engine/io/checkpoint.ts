import { parseSafetensors, type FloatTensor, type ParsedSafetensors, type RawTensor } from './safetensors.ts';
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

const SINGLE = 'model.safetensors';
const INDEX = 'model.safetensors.index.json';

function storeOf(shards: Map<string, ParsedSafetensors>, where: Map<string, string>): WeightStore {
  const shardOf = (name: string) => {
    const file = where.get(name);
    if (!file) throw new SourceError(`checkpoint has no tensor "${name}"`);
    return shards.get(file) as ParsedSafetensors;
  };
  return {
    names: () => [...where.keys()],
    has: (name) => where.has(name),
    shape: (name) => shardOf(name).entry(name).shape,
    raw: (name) => shardOf(name).raw(name),
    get: (name) => shardOf(name).get(name),
    // Shards are whole files in memory here, so there is nothing to drop per tensor.
    release: () => {},
  };
}

/** Reads `model.safetensors`, or the shards listed by `model.safetensors.index.json`. */
export async function loadWeights(source: ModelSource, onProgress?: ProgressCallback): Promise<WeightStore> {
  const single = await source.tryRead(SINGLE, onProgress);
  if (single) {
    const parsed = parseSafetensors(single, SINGLE);
    const where = new Map(parsed.names().map((n) => [n, SINGLE]));
    return storeOf(new Map([[SINGLE, parsed]]), where);
  }
  const indexBytes = await source.tryRead(INDEX);
  if (!indexBytes) {
    const hasBin = (await source.tryRead('pytorch_model.bin.index.json')) !== null;
    throw new SourceError(
      `${describeSource(source)} has neither ${SINGLE} nor ${INDEX}` +
        (hasBin ? ' (it only has pytorch_model.bin shards: pickled checkpoints are not read; pick a revision with safetensors weights)' : ''),
    );
  }
  const index = parseJsonFile(indexBytes, INDEX) as { weight_map?: unknown };
  if (!index || typeof index.weight_map !== 'object' || index.weight_map === null) throw new SourceError(`${INDEX}: missing "weight_map" object`);
  const where = new Map<string, string>();
  for (const [name, file] of Object.entries(index.weight_map as Record<string, unknown>)) {
    if (typeof file !== 'string' || file.includes('..') || file.startsWith('/')) throw new SourceError(`${INDEX}: weight_map["${name}"] must be a shard file name, got ${JSON.stringify(file)}`);
    where.set(name, file);
  }
  const shards = new Map<string, ParsedSafetensors>();
  for (const file of new Set(where.values())) {
    const bytes = await source.tryRead(file, onProgress);
    if (!bytes) throw new SourceError(`${INDEX} lists shard ${file}, which ${describeSource(source)} does not have`);
    const parsed = parseSafetensors(bytes, file);
    shards.set(file, parsed);
  }
  for (const [name, file] of where) {
    if (!(shards.get(file) as ParsedSafetensors).has(name)) throw new SourceError(`${INDEX} puts "${name}" in ${file}, but that shard has no such tensor`);
  }
  return storeOf(shards, where);
}
