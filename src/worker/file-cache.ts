// Downloaded model files kept in Cache Storage, keyed by URL, so a second visit loads offline.
// Files are written as they stream in (never assembled whole in memory), and a file that could not
// be kept is recorded with the reason, for the model panel: never a silent miss.
import type { CacheWriter, FileCache } from '../engine/io/hub.ts';
import { SourceError, type ByteStream } from '../engine/io/source.ts';

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
const WRITE_AHEAD_BYTES = 8 * 1024 * 1024;
/**
 * A file is kept as pieces of this size, each its own entry, plus a list of them under the file's
 * own URL, written last. Chromium's Cache Storage fails one put of a large body ("Unexpected
 * internal error" for a 988 MB file, measured here, while 9 MB went in), so no entry is large.
 */
export const PIECE_BYTES = 32 * 1024 * 1024;
/** Marks a URL the server answered 404 for. */
const MISSING = 'X-Playground-Missing';
/** On a file's list entry: its size and how many pieces it has. */
const SIZE = 'X-Playground-Size';
const PIECES = 'X-Playground-Pieces';

function pieceUrl(url: string, i: number): string {
  // A query, not a fragment: Cache Storage ignores fragments when it matches.
  return `${url}${url.includes('?') ? '&' : '?'}playground-piece=${i}`;
}

function mb(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)} MB`;
}

async function estimate(): Promise<{ usage: number; quota: number } | null> {
  try {
    const e = await globalThis.navigator?.storage?.estimate?.();
    return e && typeof e.usage === 'number' && typeof e.quota === 'number' ? { usage: e.usage, quota: e.quota } : null;
  } catch {
    return null;
  }
}

/** One piece being written: a stream whose body Cache Storage reads as we write. */
interface PieceWrite {
  writer: WritableStreamDefaultWriter<Uint8Array>;
  /** Rejects with the put's error. */
  failed: Promise<void>;
  done: Promise<void>;
  bytes: number;
}

function startPiece(cache: Cache, url: string): PieceWrite {
  const pipe = new TransformStream<Uint8Array, Uint8Array>(undefined, { highWaterMark: WRITE_AHEAD_BYTES, size: (c) => c.byteLength });
  const done = cache.put(url, new Response(pipe.readable, { headers: { 'Content-Type': 'application/octet-stream' } }));
  const failed = done.then(() => new Promise<void>(() => undefined));
  failed.catch(() => undefined);
  done.catch(() => undefined);
  return { writer: pipe.writable.getWriter(), failed, done, bytes: 0 };
}

export class CacheStorageFileCache implements FileCache {
  /** Files and bytes served from the cache in this session (for the model panel). */
  hits = 0;
  hitBytes = 0;
  /** Bytes downloaded and written to the cache in this session. */
  putBytes = 0;
  /** Every file this session could not keep, in order. */
  readonly problems: CacheProblem[] = [];

  constructor(private readonly pieceBytes = PIECE_BYTES) {}

  private open(): Promise<Cache> | null {
    return typeof caches === 'undefined' ? null : caches.open(MODEL_CACHE);
  }

  async get(url: string): Promise<ByteStream | null> {
    const cache = await this.open();
    const list = await cache?.match(url);
    if (!cache || !list || list.status !== 200 || !list.headers.has(PIECES)) return null;
    const size = Number(list.headers.get(SIZE));
    const count = Number(list.headers.get(PIECES));
    if (!Number.isSafeInteger(size) || !Number.isSafeInteger(count)) return null;
    // Every piece must be there before the file counts as cached (a half-evicted file is fetched again).
    const pieces: Response[] = [];
    for (let i = 0; i < count; i++) {
      const piece = await cache.match(pieceUrl(url, i));
      if (!piece?.body) return null;
      pieces.push(piece);
    }
    this.hits += 1;
    return { size, chunks: this.counted(url, pieces) };
  }

  private async *counted(url: string, pieces: Response[]): AsyncGenerator<Uint8Array> {
    for (const [i, piece] of pieces.entries()) {
      const reader = (piece.body as ReadableStream<Uint8Array>).getReader();
      try {
        for (;;) {
          let step: ReadableStreamReadResult<Uint8Array>;
          try {
            step = await reader.read();
          } catch (e) {
            throw new SourceError(`the cached copy of ${url} could not be read at piece ${i} (${(e as Error).message}); clear the cache and load again`);
          }
          if (step.done) break;
          this.hitBytes += step.value.byteLength;
          yield step.value;
        }
      } finally {
        void reader.cancel().catch(() => undefined);
      }
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
    // An older list for this URL (whose pieces are incomplete, or get() would have served it) must not
    // point at the pieces written now until they are all in.
    await cache.delete(url).catch(() => false);
    let piece: PieceWrite | null = null;
    let pieces = 0;
    let total = 0;
    // Once a write fails (quota, disk), later pieces are dropped; the download goes on for the model.
    let dead = false;
    const drop = async () => {
      dead = true;
      if (piece) void piece.writer.abort(new Error('not kept')).catch(() => undefined);
      piece = null;
      await cache.delete(url).catch(() => false);
      for (let i = 0; i <= pieces; i++) await cache.delete(pieceUrl(url, i)).catch(() => false);
    };
    const fail = async (e: unknown) => {
      if (dead) return;
      await drop();
      await this.recordError(file, url, size, e);
    };
    const endPiece = async (p: PieceWrite) => {
      piece = null;
      await p.writer.close();
      await p.done;
      pieces += 1;
    };
    return {
      write: async (chunk) => {
        let rest = chunk;
        while (!dead && rest.byteLength > 0) {
          try {
            const p: PieceWrite = piece ?? (piece = startPiece(cache, pieceUrl(url, pieces)));
            const n = Math.min(rest.byteLength, this.pieceBytes - p.bytes);
            await Promise.race([p.writer.ready, p.failed]);
            void p.writer.write(rest.subarray(0, n)).catch(() => undefined);
            p.bytes += n;
            total += n;
            this.putBytes += n;
            rest = rest.subarray(n);
            if (p.bytes === this.pieceBytes) await endPiece(p);
          } catch (e) {
            await fail(e);
          }
        }
      },
      close: async () => {
        if (dead) return;
        try {
          if (piece) await endPiece(piece);
          // The list goes in last: until then the file is not found, so a partial file is never read.
          await cache.put(url, new Response(JSON.stringify({ size: total, pieces }), { headers: { 'Content-Type': 'application/json', [SIZE]: String(total), [PIECES]: String(pieces) } }));
        } catch (e) {
          await fail(e);
        }
      },
      abort: async () => {
        if (!dead) await drop();
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
  const persisted = await Promise.resolve(globalThis.navigator?.storage?.persisted?.()).catch(() => undefined);
  const summary: CacheSummary = { files: 0, bytes: 0, models: [], usage: est?.usage ?? null, quota: est?.quota ?? null, persisted: typeof persisted === 'boolean' ? persisted : null };
  if (typeof caches === 'undefined') return summary;
  const cache = await caches.open(MODEL_CACHE);
  const byModel = new Map<string, { files: number; bytes: number }>();
  for (const req of await cache.keys()) {
    const path = new URL(req.url).pathname;
    const m = path.match(/^\/(.+?)\/resolve\//);
    // Revision lookups, pieces and "no such file" markers are bookkeeping, not files.
    if (!m) continue;
    if (new URL(req.url).searchParams.has('playground-piece')) continue;
    const res = await cache.match(req);
    if (!res || res.status !== 200 || !res.headers.has(PIECES)) continue;
    const size = Number(res.headers.get(SIZE));
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
