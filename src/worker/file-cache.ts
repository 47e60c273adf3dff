// Downloaded model files kept in Cache Storage, keyed by URL, so a second visit loads offline.
import type { FileCache } from '../engine/io/hub.ts';

export const MODEL_CACHE = 'pt-model-files-v1';

export class CacheStorageFileCache implements FileCache {
  /** Bytes served from the cache in this session (for the model panel). */
  hits = 0;
  hitBytes = 0;
  /** Bytes downloaded and stored in this session. */
  putBytes = 0;

  async get(url: string): Promise<Uint8Array | null> {
    if (typeof caches === 'undefined') return null;
    const cache = await caches.open(MODEL_CACHE);
    const res = await cache.match(url);
    if (!res) return null;
    const bytes = new Uint8Array(await res.arrayBuffer());
    this.hits += 1;
    this.hitBytes += bytes.byteLength;
    return bytes;
  }

  async put(url: string, bytes: Uint8Array): Promise<void> {
    this.putBytes += bytes.byteLength;
    if (typeof caches === 'undefined') return;
    const cache = await caches.open(MODEL_CACHE);
    try {
      await cache.put(url, new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(bytes.byteLength) } }));
    } catch {
      // Quota exceeded: the model still loads, it just is not kept.
    }
  }
}

export interface CacheSummary {
  files: number;
  bytes: number;
  models: { id: string; files: number; bytes: number }[];
}

export async function summarizeCache(): Promise<CacheSummary> {
  if (typeof caches === 'undefined') return { files: 0, bytes: 0, models: [] };
  const cache = await caches.open(MODEL_CACHE);
  const byModel = new Map<string, { files: number; bytes: number }>();
  let files = 0;
  let bytes = 0;
  for (const req of await cache.keys()) {
    const res = await cache.match(req);
    const size = Number(res?.headers.get('Content-Length') ?? 0);
    files += 1;
    bytes += size;
    const m = new URL(req.url).pathname.match(/^\/(.+?)\/resolve\//);
    const id = m ? decodeURIComponent(m[1]) : new URL(req.url).host;
    const entry = byModel.get(id) ?? { files: 0, bytes: 0 };
    entry.files += 1;
    entry.bytes += size;
    byModel.set(id, entry);
  }
  return { files, bytes, models: [...byModel].map(([id, v]) => ({ id, ...v })) };
}

export async function clearCache(): Promise<void> {
  if (typeof caches !== 'undefined') await caches.delete(MODEL_CACHE);
}
