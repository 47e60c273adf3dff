// Downloaded model files kept in Cache Storage, keyed by URL, so a second visit loads offline.
// Files are written as they stream in (never assembled whole in memory), and a file that could not
// be kept is recorded with the reason, for the model panel: never a silent miss.
import type { CacheWriter, FileCache } from '../engine/io/hub.ts';
import type { ByteStream } from '../engine/io/source.ts';

export const MODEL_CACHE = 'pt-model-files-v1';

/** A file the cache could not keep, and why. */
export interface CacheProblem {
  file: string;
  url: string;
  reason: 'unavailable' | 'quota' | 'failed';
  /** A sentence for the model panel. */
  message: string;
}

/** Bytes the cache may hold ahead of the write to disk: the download waits beyond this. */
const WRITE_AHEAD_BYTES = 16 * 1024 * 1024;
/** Marks a URL the server answered 404 for. */
const MISSING = 'X-Playground-Missing';

function mb(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)} MB`;
}

async function estimate(): Promise<{ usage: number; quota: number } | null> {
  try {
    const e = await navigator.storage?.estimate?.();
    return e && typeof e.usage === 'number' && typeof e.quota === 'number' ? { usage: e.usage, quota: e.quota } : null;
  } catch {
    return null;
  }
}

export class CacheStorageFileCache implements FileCache {
  /** Files and bytes served from the cache in this session (for the model panel). */
  hits = 0;
  hitBytes = 0;
  /** Bytes downloaded and written to the cache in this session. */
  putBytes = 0;
  /** Every file this session could not keep, in order. */
  readonly problems: CacheProblem[] = [];

  private open(): Promise<Cache> | null {
    return typeof caches === 'undefined' ? null : caches.open(MODEL_CACHE);
  }

  async get(url: string): Promise<ByteStream | null> {
    const cache = await this.open();
    const res = await cache?.match(url);
    if (!res || res.status !== 200 || res.headers.has(MISSING) || !res.body) return null;
    this.hits += 1;
    const length = Number(res.headers.get('Content-Length') ?? NaN);
    return { size: Number.isSafeInteger(length) ? length : null, chunks: this.counted(res.body) };
  }

  private async *counted(body: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
    const reader = body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        this.hitBytes += value.byteLength;
        yield value;
      }
    } finally {
      void reader.cancel().catch(() => undefined);
    }
  }

  private record(file: string, url: string, reason: CacheProblem['reason'], message: string): void {
    this.problems.push({ file, url, reason, message });
  }

  private async recordError(file: string, url: string, size: number | null, e: unknown): Promise<void> {
    const name = (e as { name?: string } | null)?.name;
    if (name === 'QuotaExceededError') {
      const est = await estimate();
      const use = est ? `: ${mb(est.usage)} of the ${mb(est.quota)} this site may use are taken` : '';
      this.record(file, url, 'quota', `not kept in the browser cache: the storage quota is exceeded${use}${size !== null ? ` and the file is ${mb(size)}` : ''}`);
    } else {
      this.record(file, url, 'failed', `not kept in the browser cache: ${(e as Error)?.message || String(e)}`);
    }
  }

  async writer(url: string, file: string, size: number | null): Promise<CacheWriter | null> {
    const opening = this.open();
    if (!opening) {
      this.record(file, url, 'unavailable', 'not kept: this page has no Cache Storage (it needs a secure context: https or localhost)');
      return null;
    }
    // A file that cannot fit is not worth writing until the quota stops it.
    const est = await estimate();
    if (size !== null && est && size > est.quota - est.usage) {
      this.record(file, url, 'quota', `not kept in the browser cache: it is ${mb(size)}, and only ${mb(Math.max(0, est.quota - est.usage))} of the ${mb(est.quota)} this site may use are free`);
      return null;
    }
    let cache: Cache;
    try {
      cache = await opening;
    } catch (e) {
      await this.recordError(file, url, size, e);
      return null;
    }
    const pipe = new TransformStream<Uint8Array, Uint8Array>(undefined, { highWaterMark: WRITE_AHEAD_BYTES, size: (c) => c.byteLength });
    const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' };
    if (size !== null) headers['Content-Length'] = String(size);
    let failure: unknown = null;
    const put = cache.put(url, new Response(pipe.readable, { headers })).then(
      () => true,
      (e: unknown) => {
        failure = e;
        return false;
      },
    );
    const failed = put.then((ok) => {
      if (!ok) throw failure;
    });
    failed.catch(() => undefined);
    const w = pipe.writable.getWriter();
    // Once a write fails (quota, disk), later pieces are dropped; the download goes on for the model.
    let dead = false;
    let reported = false;
    const fail = async (e: unknown) => {
      dead = true;
      void w.abort(e).catch(() => undefined);
      if (!reported) {
        reported = true;
        await this.recordError(file, url, size, e);
      }
    };
    return {
      write: async (chunk) => {
        if (dead) return;
        try {
          await Promise.race([w.ready, failed]);
          void w.write(chunk).catch(() => undefined);
          this.putBytes += chunk.byteLength;
        } catch (e) {
          await fail(e);
        }
      },
      close: async () => {
        if (dead) return;
        await w.close().catch(() => undefined);
        if (!(await put)) await fail(failure);
      },
      abort: async (reason) => {
        if (dead) return;
        dead = true;
        await w.abort(new Error(reason)).catch(() => undefined);
        await put;
      },
    };
  }

  async setMissing(url: string): Promise<void> {
    try {
      await (await this.open())?.put(url, new Response(null, { status: 404, headers: { [MISSING]: '1' } }));
    } catch {
      // Only an offline load needs this, and it then says the server is unreachable.
    }
  }

  async isMissing(url: string): Promise<boolean> {
    const res = await (await this.open())?.match(url).catch(() => undefined);
    return res?.headers.has(MISSING) === true;
  }
}

export interface CacheSummary {
  files: number;
  bytes: number;
  models: { id: string; files: number; bytes: number }[];
  /** navigator.storage.estimate() of the whole origin, where the browser tells. */
  usage: number | null;
  quota: number | null;
  /** navigator.storage.persisted(): false means the browser may evict the cache under storage pressure. */
  persisted: boolean | null;
}

export async function summarizeCache(): Promise<CacheSummary> {
  const est = await estimate();
  const persisted = await Promise.resolve(navigator.storage?.persisted?.()).catch(() => undefined);
  const summary: CacheSummary = { files: 0, bytes: 0, models: [], usage: est?.usage ?? null, quota: est?.quota ?? null, persisted: typeof persisted === 'boolean' ? persisted : null };
  if (typeof caches === 'undefined') return summary;
  const cache = await caches.open(MODEL_CACHE);
  const byModel = new Map<string, { files: number; bytes: number }>();
  for (const req of await cache.keys()) {
    const path = new URL(req.url).pathname;
    const m = path.match(/^\/(.+?)\/resolve\//);
    // Revision lookups and "no such file" markers are bookkeeping, not files.
    if (!m) continue;
    const res = await cache.match(req);
    if (!res || res.status !== 200 || res.headers.has(MISSING)) continue;
    const header = Number(res.headers.get('Content-Length') ?? NaN);
    // The blob of a cached response is backed by the cache on disk: its size costs no read.
    const size = Number.isSafeInteger(header) ? header : (await res.blob()).size;
    summary.files += 1;
    summary.bytes += size;
    const id = decodeURIComponent(m[1]);
    const entry = byModel.get(id) ?? { files: 0, bytes: 0 };
    entry.files += 1;
    entry.bytes += size;
    byModel.set(id, entry);
  }
  summary.models = [...byModel].map(([id, v]) => ({ id, ...v }));
  return summary;
}

export async function clearCache(): Promise<void> {
  if (typeof caches !== 'undefined') await caches.delete(MODEL_CACHE);
}
