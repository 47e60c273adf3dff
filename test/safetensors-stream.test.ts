// Streaming loads: safetensors parsed as bytes arrive (any chunking, truncation, shards), from a
// Hub-layout server without a whole-file buffer, through a cache that keeps what it can.
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWeights } from '../src/engine/io/checkpoint.ts';
import { HubSource, parseHubRef } from '../src/engine/io/hub.ts';
import { parseSafetensors, writeSafetensors, type FloatTensor } from '../src/engine/io/safetensors.ts';
import { SafetensorsStreamParser, readSafetensorsStream } from '../src/engine/io/safetensors-stream.ts';
import { FilesSource, SourceError, readAll, trackedStream, type ByteStream, type FileProgress, type ModelSource, type ProgressCallback } from '../src/engine/io/source.ts';
import { loadModel } from '../src/engine/load.ts';
import { batchFromJson } from '../src/engine/prompt/batch.ts';
import { promptForward } from '../src/engine/prompt/prompted.ts';
import { initNodeBackend } from '../src/node/backend.ts';
import { FolderSource } from '../src/node/folder-source.ts';
import { LOCAL_FIXTURES, readCase } from './support/fixtures.ts';
import { startHubServer, type HubServer } from './support/hub-server.ts';
import { MemoryFileCache } from './support/memory-cache.ts';

/** A file with F32, F16 and BF16 tensors, an empty tensor, a gap between tensors and header padding. */
function mixedFile(): Uint8Array {
  const header = {
    __metadata__: { format: 'pt' },
    a: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] },
    empty: { dtype: 'F32', shape: [0, 4], data_offsets: [24, 24] },
    h: { dtype: 'F16', shape: [3], data_offsets: [24, 30] },
    // 2 bytes nobody owns between h and b
    b: { dtype: 'BF16', shape: [2, 2], data_offsets: [32, 40] },
    c: { dtype: 'F32', shape: [5], data_offsets: [40, 60] },
  };
  const json = new TextEncoder().encode(JSON.stringify(header) + '   ');
  const out = new Uint8Array(8 + json.length + 60);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  for (let i = 8 + json.length; i < out.length; i++) out[i] = (i * 37) & 0xff;
  return out;
}

function parseInPieces(bytes: Uint8Array, cuts: number[], file = 'x.safetensors', size: number | null = bytes.length) {
  const parser = new SafetensorsStreamParser(file, size);
  let prev = 0;
  for (const c of [...cuts, bytes.length]) {
    parser.push(bytes.subarray(prev, c));
    prev = c;
  }
  return parser.end();
}

function expectSameTensors(bytes: Uint8Array, streamed: ReturnType<typeof parseInPieces>): void {
  const whole = parseSafetensors(bytes, 'x.safetensors');
  expect(streamed.names().sort()).toEqual(whole.names().sort());
  for (const name of whole.names()) {
    expect(Array.from(streamed.raw(name).bytes), name).toEqual(Array.from(whole.raw(name).bytes));
    expect(streamed.raw(name).dtype).toBe(whole.raw(name).dtype);
    expect(Array.from(streamed.get(name).data), name).toEqual(Array.from(whole.get(name).data));
  }
  expect(streamed.header.metadata).toEqual(whole.header.metadata);
}

async function* pieces(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.slice(i, i + size);
}

describe('streaming safetensors parser', () => {
  const bytes = mixedFile();

  it('gives the same tensors for a cut at every byte, including inside the length and the header', () => {
    for (let cut = 0; cut <= bytes.length; cut++) expectSameTensors(bytes, parseInPieces(bytes, [cut]));
  });

  it('gives the same tensors for one-byte pieces and for random cuts, with and without a known size', () => {
    expectSameTensors(
      bytes,
      parseInPieces(
        bytes,
        Array.from({ length: bytes.length }, (_, i) => i),
      ),
    );
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let trial = 0; trial < 200; trial++) {
      const cuts = Array.from({ length: 1 + Math.floor(rand() * 8) }, () => Math.floor(rand() * bytes.length)).sort((a, b) => a - b);
      expectSameTensors(bytes, parseInPieces(bytes, cuts, 'x.safetensors', trial % 2 ? null : bytes.length));
    }
  });

  it('keeps each tensor in a buffer of its own, no larger than the tensor, aligned at 0', () => {
    const parsed = parseInPieces(bytes, [3, 50, 51, 200]);
    for (const name of parsed.names()) {
      const raw = parsed.raw(name).bytes;
      expect(raw.byteOffset).toBe(0);
      expect(raw.buffer.byteLength).toBe(raw.byteLength);
    }
    // The largest allocation is the header, not the file.
    expect(parsed.stats.largestBuffer).toBeLessThan(bytes.length);
    expect(parsed.stats.bytes).toBe(bytes.length);
  });

  it('drops a released tensor and says so when it is read again', () => {
    const parsed = parseInPieces(bytes, [10]);
    const held = parsed.heldBytes();
    parsed.release('c');
    expect(parsed.heldBytes()).toBe(held - 20);
    expect(() => parsed.raw('c')).toThrow(/x.safetensors: tensor "c" was already released/);
    expect(Array.from(parsed.get('a').data).length).toBe(6);
  });

  it('names the file and where it stopped for a body cut short anywhere', () => {
    for (let len = 0; len < bytes.length; len++) {
      const cut = bytes.subarray(0, len);
      // Unknown size (a compressed body): the parser itself finds the gap.
      expect(() => parseInPieces(cut, [Math.floor(len / 2)], 'model-00002-of-00003.safetensors', null), `length ${len}`).toThrow(/^model-00002-of-00003\.safetensors: (ended after|is \d+ bytes)/);
    }
    const headerEnd = 8 + new DataView(bytes.buffer).getUint32(0, true);
    expect(() => parseInPieces(bytes.subarray(0, 20), [], 'm.safetensors', null)).toThrow(`m.safetensors: ended after 20 bytes, inside its ${headerEnd - 8}-byte header`);
    expect(() => parseInPieces(bytes.subarray(0, headerEnd + 30), [], 'm.safetensors', null)).toThrow(
      `m.safetensors: ended after ${headerEnd + 30} bytes, inside tensor "b" which runs to byte ${headerEnd + 40}`,
    );
    // Known size: a header whose length runs past it fails as soon as the length arrives.
    expect(() => parseInPieces(bytes.subarray(0, 8), [], 'm.safetensors', 100)).toThrow(/m.safetensors: header length \d+ runs past the end of the 100-byte file/);
  });

  it('reports header errors with the file name when the header arrives in pieces', () => {
    const header = new TextEncoder().encode('{"w": {"dtype": "F8", "shape": [1], "data_offsets": [0, 1]}}');
    const file = new Uint8Array(8 + header.length + 1);
    new DataView(file.buffer).setUint32(0, header.length, true);
    file.set(header, 8);
    expect(() => parseInPieces(file, [5, 9, 30], 'shard.safetensors')).toThrow('shard.safetensors: tensor "w": unknown dtype "F8"');
  });

  it('fails a stream that ends before its announced size, naming the file', async () => {
    const stream = trackedStream('model.safetensors', bytes.length + 5, pieces(bytes, 7));
    await expect(readSafetensorsStream(stream, 'model.safetensors')).rejects.toThrow(`model.safetensors: the download ended after ${bytes.length} of ${bytes.length + 5} bytes`);
    await expect(readAll(trackedStream('f.json', 3, pieces(bytes.subarray(0, 10), 4)))).rejects.toThrow('f.json: more than the announced 3 bytes arrived');
  });
});

/** An in-memory ModelSource that hands out files in small pieces. */
class PiecesSource implements ModelSource {
  readonly kind = 'folder';
  readonly id = 'pieces';
  readonly revision = null;
  opened: string[] = [];
  constructor(
    private readonly files: Record<string, Uint8Array>,
    private readonly piece = 13,
  ) {}
  async resolvedRevision(): Promise<string | null> {
    return null;
  }
  async tryRead(file: string, onProgress?: ProgressCallback): Promise<Uint8Array | null> {
    const s = await this.tryOpen(file, onProgress);
    return s && readAll(s);
  }
  async tryOpen(file: string, onProgress?: ProgressCallback): Promise<ByteStream | null> {
    const bytes = this.files[file];
    if (!bytes) return null;
    this.opened.push(file);
    return trackedStream(file, bytes.length, pieces(bytes, this.piece), onProgress);
  }
}

function tensors(n: number, values: number, offset = 0): Record<string, FloatTensor> {
  const out: Record<string, FloatTensor> = {};
  for (let i = 0; i < n; i++) out[`layer.${i}.weight`] = { shape: [values], data: Float32Array.from({ length: values }, (_, j) => offset + i + j / values) };
  return out;
}

describe('sharded checkpoints, streamed', () => {
  const all = tensors(6, 40);
  const names = Object.keys(all);
  const shard = (which: number) => writeSafetensors(Object.fromEntries(names.filter((_, i) => i % 2 === which).map((n) => [n, all[n]])));
  const index = (map: Record<string, string>) => new TextEncoder().encode(JSON.stringify({ metadata: {}, weight_map: map }));
  const mapOf = () => Object.fromEntries(names.map((n, i) => [n, `model-0000${(i % 2) + 1}-of-00002.safetensors`]));

  it('reads every shard the index lists, in pieces, with the same values', async () => {
    const source = new PiecesSource({ 'model.safetensors.index.json': index(mapOf()), 'model-00001-of-00002.safetensors': shard(0), 'model-00002-of-00002.safetensors': shard(1) });
    const progress: FileProgress[] = [];
    const store = await loadWeights(source, (p) => progress.push(p));
    expect(store.names().sort()).toEqual([...names].sort());
    for (const n of names) expect(Array.from(store.get(n).data)).toEqual(Array.from(all[n].data));
    expect(store.files.map((f) => f.file)).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    for (const f of store.files) expect(f.stats.largestChunk).toBe(13);
    // Progress is per file, ending at each file's size.
    for (const f of store.files) expect(progress.filter((p) => p.file === f.file).at(-1)).toMatchObject({ loaded: f.stats.bytes, total: f.stats.bytes });
    store.release(names[0]);
    expect(() => store.raw(names[0])).toThrow(/already released/);
  });

  it('drops tensors a shard holds but the index does not map to it', async () => {
    const map = mapOf();
    map[names[0]] = 'model-00002-of-00002.safetensors'; // names[0] is in shard 1, so the index is wrong about it
    const source = new PiecesSource({ 'model.safetensors.index.json': index(map), 'model-00001-of-00002.safetensors': shard(0), 'model-00002-of-00002.safetensors': shard(1) });
    await expect(loadWeights(source)).rejects.toThrow(`model.safetensors.index.json puts "${names[0]}" in model-00002-of-00002.safetensors, but that shard has no such tensor`);
    const fine = mapOf();
    delete fine[names[2]];
    const store = await loadWeights(new PiecesSource({ 'model.safetensors.index.json': index(fine), 'model-00001-of-00002.safetensors': shard(0), 'model-00002-of-00002.safetensors': shard(1) }));
    expect(store.has(names[2])).toBe(false);
    expect(store.heldBytes()).toBe(5 * 40 * 4);
  });

  it('names a truncated shard', async () => {
    const cut = shard(1).subarray(0, shard(1).length - 9);
    const source = new PiecesSource({ 'model.safetensors.index.json': index(mapOf()), 'model-00001-of-00002.safetensors': shard(0), 'model-00002-of-00002.safetensors': cut });
    await expect(loadWeights(source)).rejects.toThrow(/^model-00002-of-00002\.safetensors: tensor "layer\.5\.weight": data_offsets \[\d+, \d+\] run past the data section/);
  });

  it('refuses an index without tensors or with a bad shard name', async () => {
    await expect(loadWeights(new PiecesSource({ 'model.safetensors.index.json': index({}) }))).rejects.toThrow('model.safetensors.index.json: "weight_map" lists no tensors');
    await expect(loadWeights(new PiecesSource({ 'model.safetensors.index.json': index({ w: '../x.safetensors' }) }))).rejects.toThrow('weight_map["w"] must be a shard file name');
  });
});

describe('streamed loads from a Hub-layout server', () => {
  let hub: HubServer;
  let bigDir: string;
  let shardedDir: string;
  const TENSORS = 24;
  const VALUES = 64 * 1024; // 256 KiB each: a 6 MiB file

  beforeAll(async () => {
    await initNodeBackend();
    bigDir = mkdtempSync(path.join(os.tmpdir(), 'stream-big-'));
    writeFileSync(path.join(bigDir, 'model.safetensors'), writeSafetensors(tensors(TENSORS, VALUES), { format: 'pt' }));
    // tiny-llama split in two shards with an index, as big checkpoints are.
    const llama = path.join(LOCAL_FIXTURES, 'tiny-llama');
    shardedDir = mkdtempSync(path.join(os.tmpdir(), 'stream-sharded-'));
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(llama, f), path.join(shardedDir, f));
    const parsed = parseSafetensors(new Uint8Array(readFileSync(path.join(llama, 'model.safetensors'))), 'model.safetensors');
    const parts: Record<string, FloatTensor>[] = [{}, {}];
    const weightMap: Record<string, string> = {};
    parsed.names().forEach((name, i) => {
      parts[i % 2][name] = parsed.get(name);
      weightMap[name] = `model-0000${(i % 2) + 1}-of-00002.safetensors`;
    });
    parts.forEach((p, i) => writeFileSync(path.join(shardedDir, `model-0000${i + 1}-of-00002.safetensors`), writeSafetensors(p, { format: 'pt' })));
    writeFileSync(path.join(shardedDir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    hub = await startHubServer([
      { id: 'test-org/big', dir: bigDir },
      { id: 'test-org/sharded-llama', dir: shardedDir },
      { id: 'test-org/tiny-llama', dir: llama },
    ]);
  });
  afterAll(() => hub?.close());

  it('never allocates a buffer the size of the file: the largest is one tensor, the pieces are the network chunks', async () => {
    const size = readFileSync(path.join(bigDir, 'model.safetensors')).byteLength;
    const store = await loadWeights(new HubSource(parseHubRef('test-org/big'), { endpoint: hub.url }));
    const [{ stats }] = store.files;
    expect(stats.bytes).toBe(size);
    expect(stats.largestBuffer).toBe(VALUES * 4);
    expect(stats.largestChunk).toBeLessThan(size / 8);
    expect(stats.chunks).toBeGreaterThan(8);
    expect(Array.from(store.get('layer.23.weight').data.subarray(0, 2))).toEqual([23, 23 + 1 / VALUES].map(Math.fround));
  });

  it('loads a sharded model through the Hub with the same logits as the single file', async () => {
    const sharded = await loadModel(new HubSource(parseHubRef('test-org/sharded-llama'), { endpoint: hub.url }));
    const whole = await loadModel(new FolderSource(path.join(LOCAL_FIXTURES, 'tiny-llama')));
    const batch = batchFromJson(readCase(path.join(LOCAL_FIXTURES, 'tiny-llama'), 'forward').json, 'forward');
    const a = promptForward(sharded.model, null, batch).logits;
    const b = promptForward(whole.model, null, batch).logits;
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    tf.dispose([a, b]);
    sharded.dispose();
    whole.dispose();
    expect(hub.requests).toContain('/test-org/sharded-llama/resolve/main/model-00002-of-00002.safetensors');
  });

  it('a second load comes from the cache with the network gone, shards and absent files included', async () => {
    const cache = new MemoryFileCache();
    const ref = parseHubRef('test-org/sharded-llama');
    const first = await loadModel(new HubSource(ref, { endpoint: hub.url, cache }));
    const commit = first.origin.commit;
    first.dispose();
    expect(commit).toBe(hub.commitOf('test-org/sharded-llama'));
    // model.safetensors is not in this repo: remembered as absent, so offline it is not "unreachable".
    expect(cache.missing.has(`${hub.url}/test-org/sharded-llama/resolve/main/model.safetensors`)).toBe(true);
    const offline = {
      endpoint: hub.url,
      cache,
      fetch: (async () => {
        throw new TypeError('fetch failed');
      }) as typeof fetch,
    };
    const progress: FileProgress[] = [];
    const again = await loadModel(new HubSource(ref, offline), (p) => progress.push(p));
    expect(again.origin.commit).toBe(commit);
    expect(progress.filter((p) => p.file.endsWith('.safetensors')).every((p) => p.cached)).toBe(true);
    again.dispose();
    // Without a cached copy, offline says the server is unreachable.
    await expect(loadModel(new HubSource(parseHubRef('test-org/tiny-llama'), offline))).rejects.toThrow(`test-org/tiny-llama: could not reach ${hub.url} for config.json (fetch failed)`);
  });

  it('keeps what fits in the cache and names the file that did not fit; the model still loads', async () => {
    const weights = readFileSync(path.join(LOCAL_FIXTURES, 'tiny-llama', 'model.safetensors')).byteLength;
    const cache = new MemoryFileCache(weights / 2);
    const lm = await loadModel(new HubSource(parseHubRef('test-org/tiny-llama'), { endpoint: hub.url, cache }));
    lm.dispose();
    expect(cache.problems.map((p) => p.file)).toEqual(['model.safetensors']);
    expect(cache.files.has(`${hub.url}/test-org/tiny-llama/resolve/main/config.json`)).toBe(true);
    expect(cache.files.has(`${hub.url}/test-org/tiny-llama/resolve/main/model.safetensors`)).toBe(false);
  });

  it('does not keep a download that broke off, and names the file', async () => {
    const size = readFileSync(path.join(bigDir, 'model.safetensors')).byteLength;
    const cache = new MemoryFileCache();
    // A server that announces the whole file and closes the connection halfway.
    const cutting: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (!String(input).endsWith('model.safetensors')) return res;
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(c) {
          const { done, value } = await reader.read();
          if (done || sent > size / 2) {
            void reader.cancel();
            return c.close();
          }
          sent += value.byteLength;
          c.enqueue(value);
        },
      });
      return new Response(body, { status: 200, headers: res.headers });
    };
    const err = await loadWeights(new HubSource(parseHubRef('test-org/big'), { endpoint: hub.url, cache, fetch: cutting })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SourceError);
    expect((err as Error).message).toMatch(new RegExp(`^model.safetensors: the download ended after \\d+ of ${size} bytes$`));
    expect([...cache.files.keys()].some((u) => u.endsWith('model.safetensors'))).toBe(false);
  });

  it('reads a picked File by slices', async () => {
    const file = readFileSync(path.join(bigDir, 'model.safetensors'));
    const blob = new Blob([file]);
    const store = await loadWeights(new FilesSource('picked', [{ name: 'big/model.safetensors', blob }], 1 << 20));
    expect(store.files[0].stats).toMatchObject({ bytes: file.byteLength, largestChunk: 1 << 20, largestBuffer: VALUES * 4 });
    expect(Array.from(store.get('layer.3.weight').data.subarray(0, 1))).toEqual([3]);
  });

  it('streams a folder on disk in pieces', async () => {
    const store = await loadWeights(new FolderSource(bigDir));
    expect(store.files[0].stats.largestBuffer).toBe(VALUES * 4);
    expect(store.files[0].stats.largestChunk).toBeLessThan(store.files[0].stats.bytes);
  });
});
