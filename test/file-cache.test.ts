// The worker's Cache Storage cache against an in-memory stand-in for the browser's CacheStorage
// (Node has none): files kept as pieces plus a list written last, failures recorded by file and
// reason with nothing half-kept, and an offline Hub load served from it. The real Cache Storage is
// exercised by the Hub test in e2e/playground.e2e.test.ts.
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HubSource, parseHubRef } from '../src/engine/io/hub.ts';
import { readAll } from '../src/engine/io/source.ts';
import { loadModel } from '../src/engine/load.ts';
import { batchFromJson } from '../src/engine/prompt/batch.ts';
import { promptForward } from '../src/engine/prompt/prompted.ts';
import { initNodeBackend } from '../src/node/backend.ts';
import { CacheStorageFileCache, MODEL_CACHE, summarizeCache } from '../src/worker/file-cache.ts';
import { LOCAL_FIXTURES, readCase } from './support/fixtures.ts';
import { startHubServer, type HubServer } from './support/hub-server.ts';

interface Entry {
  status: number;
  headers: Headers;
  bytes: Uint8Array;
}

/** Cache.put reads the body to its end before the entry exists, as the browser's does. */
class MemoryCache {
  readonly entries = new Map<string, Entry>();
  failPut: ((url: string) => Error | null) | null = null;
  async put(req: RequestInfo | URL, res: Response): Promise<void> {
    const url = String(req instanceof Request ? req.url : req);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const err = this.failPut?.(url);
    if (err) throw err;
    this.entries.set(url, { status: res.status, headers: new Headers(res.headers), bytes });
  }
  async match(req: RequestInfo | URL): Promise<Response | undefined> {
    const e = this.entries.get(String(req instanceof Request ? req.url : req));
    if (!e) return undefined;
    return new Response(e.status === 404 ? null : (e.bytes.slice() as Uint8Array<ArrayBuffer>), { status: e.status, headers: e.headers });
  }
  async delete(req: RequestInfo | URL): Promise<boolean> {
    return this.entries.delete(String(req instanceof Request ? req.url : req));
  }
  async keys(): Promise<Request[]> {
    return [...this.entries.keys()].map((u) => new Request(u));
  }
}

let store: MemoryCache;
beforeEach(() => {
  store = new MemoryCache();
  (globalThis as { caches?: unknown }).caches = { open: async (name: string) => (name === MODEL_CACHE ? store : null), delete: async () => true };
});
afterEach(() => {
  delete (globalThis as { caches?: unknown }).caches;
});

const URL_ = 'http://hub.test/org/m/resolve/abc/model.safetensors';
const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) & 0xff);

async function writeInChunks(cache: CacheStorageFileCache, data: Uint8Array, chunk = 50, url = URL_): Promise<void> {
  const w = await cache.writer(url, 'model.safetensors', data.byteLength);
  expect(w).not.toBeNull();
  for (let i = 0; i < data.length; i += chunk) await w!.write(data.subarray(i, i + chunk));
  await w!.close();
}

describe('Cache Storage file cache', () => {
  it('keeps a file as pieces plus a list, and reads it back whole', async () => {
    const cache = new CacheStorageFileCache(64);
    await writeInChunks(cache, bytes);
    expect([...store.entries.keys()].filter((u) => u.includes('playground-piece=')).length).toBe(16);
    expect(Math.max(...[...store.entries.values()].map((e) => e.bytes.byteLength))).toBeLessThanOrEqual(64);
    const got = await cache.get(URL_);
    expect(got?.size).toBe(1000);
    expect(Array.from(await readAll(got!))).toEqual(Array.from(bytes));
    expect(cache.hitBytes).toBe(1000);
    expect(cache.problems).toEqual([]);
    const summary = await summarizeCache();
    expect(summary).toMatchObject({ files: 1, bytes: 1000, models: [{ id: 'org/m', files: 1, bytes: 1000 }] });
  });

  it('records a piece the cache refuses, with the reason, and keeps nothing of that file', async () => {
    const cache = new CacheStorageFileCache(64);
    store.failPut = (url) => (url.endsWith('playground-piece=5') ? new DOMException('Quota exceeded.', 'QuotaExceededError') : null);
    await writeInChunks(cache, bytes);
    expect(cache.problems).toHaveLength(1);
    expect(cache.problems[0]).toMatchObject({ file: 'model.safetensors', reason: 'quota' });
    expect(cache.problems[0].message).toMatch(/^not kept in the browser cache: the storage quota is exceeded/);
    expect([...store.entries.keys()].filter((u) => u.startsWith(URL_))).toEqual([]);
    expect(await cache.get(URL_)).toBeNull();
    store.failPut = () => new Error('disk on fire');
    await writeInChunks(cache, bytes.subarray(0, 10));
    expect(cache.problems[1]).toMatchObject({ file: 'model.safetensors', reason: 'failed', message: 'not kept in the browser cache: disk on fire' });
  });

  it('keeps nothing of a download that did not complete, and ignores a file with a piece gone', async () => {
    const cache = new CacheStorageFileCache(64);
    const w = await cache.writer(URL_, 'model.safetensors', 1000);
    await w!.write(bytes.subarray(0, 300));
    await w!.abort('the download did not complete');
    expect([...store.entries.keys()].filter((u) => u.startsWith(URL_))).toEqual([]);
    expect(cache.problems).toEqual([]);
    await writeInChunks(cache, bytes);
    store.entries.delete(`${URL_}?playground-piece=3`);
    expect(await cache.get(URL_)).toBeNull();
  });

  it('names every file when there is no Cache Storage at all', async () => {
    delete (globalThis as { caches?: unknown }).caches;
    const cache = new CacheStorageFileCache();
    expect(await cache.writer(URL_, 'model.safetensors', 10)).toBeNull();
    expect(cache.problems[0]).toMatchObject({ file: 'model.safetensors', reason: 'unavailable' });
  });
});

describe('Cache Storage file cache under a Hub load', () => {
  let hub: HubServer;
  beforeAll(async () => {
    await initNodeBackend();
    hub = await startHubServer([{ id: 'test-org/tiny-llama', dir: path.join(LOCAL_FIXTURES, 'tiny-llama') }]);
  });
  afterAll(() => hub?.close());

  it('serves a second load with the network gone, in many pieces, with the same logits', async () => {
    const cache = new CacheStorageFileCache(4096);
    const ref = parseHubRef('test-org/tiny-llama');
    const online = await loadModel(new HubSource(ref, { endpoint: hub.url, cache }));
    expect(cache.problems).toEqual([]);
    const offline = await loadModel(
      new HubSource(ref, {
        endpoint: hub.url,
        cache,
        fetch: (async () => {
          throw new TypeError('fetch failed');
        }) as typeof fetch,
      }),
    );
    expect(offline.origin.commit).toBe(hub.commitOf('test-org/tiny-llama'));
    expect(cache.hitBytes).toBeGreaterThan(100_000);
    const batch = batchFromJson(readCase(path.join(LOCAL_FIXTURES, 'tiny-llama'), 'forward').json, 'forward');
    const a = promptForward(online.model, null, batch).logits;
    const b = promptForward(offline.model, null, batch).logits;
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    tf.dispose([a, b]);
    online.dispose();
    offline.dispose();
  });
});
