import { bodyStream } from './http-body.ts';
import { SourceError, readAll, trackedStream, type ByteStream, type ModelSource, type ProgressCallback } from './source.ts';

export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

/**
 * Stores downloaded files by URL (Cache Storage in the browser), written and read as streams so
 * that a file is never held whole in memory. A file it cannot store, it names with the reason
 * itself (the model panel shows them); the load goes on without it.
 */
export interface FileCache {
  /** A stored file, or null. */
  get(url: string): Promise<ByteStream | null>;
  /** Somewhere to store `file` while it downloads, or null when it will not be stored (the cache has recorded why). */
  writer(url: string, file: string, size: number | null): Promise<CacheWriter | null>;
  /** Remembers that the server has no file at `url`, so an offline load knows it is absent rather than unreachable. */
  setMissing(url: string): Promise<void>;
  isMissing(url: string): Promise<boolean>;
}

export interface CacheWriter {
  /** Waits while the cache is behind (backpressure). Never throws: a failure is recorded and later pieces are dropped. */
  write(chunk: Uint8Array): Promise<void>;
  /** The file arrived whole: keep it. */
  close(): Promise<void>;
  /** The file did not arrive whole: keep nothing. */
  abort(reason: string): Promise<void>;
}

/** Passes pieces through while writing them to the cache; only a file read to its end (and of its announced size) is kept. */
async function* storedWhileRead(chunks: AsyncIterable<Uint8Array>, writer: CacheWriter): AsyncGenerator<Uint8Array> {
  let whole = false;
  try {
    for await (const chunk of chunks) {
      await writer.write(chunk);
      yield chunk;
    }
    whole = true;
  } finally {
    if (whole) await writer.close();
    else await writer.abort('the download did not complete');
  }
}

async function storeBytes(cache: FileCache, url: string, file: string, bytes: Uint8Array): Promise<void> {
  const writer = await cache.writer(url, file, bytes.byteLength);
  if (!writer) return;
  await writer.write(bytes);
  await writer.close();
}

export interface HubRef {
  id: string;
  revision: string;
}

const REPO_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$|^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Parses `org/name` or `org/name@revision`. */
export function parseHubRef(spec: string): HubRef {
  const at = spec.indexOf('@');
  const id = (at < 0 ? spec : spec.slice(0, at)).trim();
  const revision = at < 0 ? 'main' : spec.slice(at + 1).trim();
  if (!REPO_ID.test(id) || id.includes('..')) throw new SourceError(`"${spec}" is not a Hub model id: expected org/name or org/name@revision`);
  if (!revision || /[\s]/.test(revision)) throw new SourceError(`"${spec}": the revision after @ is empty or has spaces`);
  return { id, revision };
}

export interface HubOptions {
  endpoint?: string;
  cache?: FileCache;
  fetch?: typeof fetch;
  /** Sent as a Bearer token, for gated or private models. */
  token?: string;
}

/** Files from `{endpoint}/{id}/resolve/{revision}/{file}`, the layout of the Hugging Face Hub. */
export class HubSource implements ModelSource {
  readonly kind = 'hub';
  readonly id: string;
  readonly revision: string;
  readonly endpoint: string;
  private commit: string | null = null;
  private readonly fetchFn: typeof fetch;

  constructor(
    ref: HubRef,
    private readonly options: HubOptions = {},
  ) {
    this.id = ref.id;
    this.revision = ref.revision;
    this.endpoint = (options.endpoint ?? DEFAULT_HUB_ENDPOINT).replace(/\/+$/, '');
    this.fetchFn = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  url(file: string): string {
    return `${this.endpoint}/${this.id}/resolve/${encodeURIComponent(this.revision)}/${file}`;
  }

  private headers(): HeadersInit {
    return this.options.token ? { Authorization: `Bearer ${this.options.token}` } : {};
  }

  async resolvedRevision(): Promise<string | null> {
    if (this.commit) return this.commit;
    if (/^[0-9a-f]{40}$/.test(this.revision)) return (this.commit = this.revision);
    const cache = this.options.cache;
    let res: Response;
    try {
      res = await this.fetchFn(this.revisionUrl(), { headers: this.headers() });
    } catch {
      // Offline: the commit this revision pointed to when its files were cached, so they are found.
      const stored = cache ? await cache.get(this.revisionUrl()).catch(() => null) : null;
      if (stored) this.commit = commitOf(await readAll(stored).catch(() => null));
      return this.commit;
    }
    // The API is optional: without it, the resolve responses' X-Repo-Commit header is used instead.
    if (!res.ok) return this.commit;
    const sha = commitOf(new Uint8Array(await res.arrayBuffer().catch(() => new ArrayBuffer(0))));
    if (sha) await this.learnCommit(sha);
    return this.commit;
  }

  private revisionUrl(): string {
    return `${this.endpoint}/api/models/${this.id}/revision/${encodeURIComponent(this.revision)}`;
  }

  /** Keeps the commit a branch or tag points to, also in the cache for an offline load. */
  private async learnCommit(sha: string): Promise<void> {
    if (this.commit) return;
    this.commit = sha;
    if (this.options.cache && sha !== this.revision) await storeBytes(this.options.cache, this.revisionUrl(), `revision ${this.revision}`, new TextEncoder().encode(JSON.stringify({ sha })));
  }

  async tryRead(file: string, onProgress?: ProgressCallback): Promise<Uint8Array | null> {
    const stream = await this.tryOpen(file, onProgress);
    return stream && readAll(stream);
  }

  async tryOpen(file: string, onProgress?: ProgressCallback): Promise<ByteStream | null> {
    const url = this.url(file);
    const cache = this.options.cache;
    const cached = await cache?.get(url);
    if (cached) return trackedStream(file, cached.size, cached.chunks, onProgress, true);
    let res: Response;
    try {
      res = await this.fetchFn(url, { headers: this.headers() });
    } catch (e) {
      // Offline: a file the server was seen not to have is absent, not unreachable.
      if (cache && (await cache.isMissing(url))) return null;
      throw new SourceError(`${this.id}: could not reach ${this.endpoint} for ${file} (${(e as Error).message})`);
    }
    // The Hub answers 401 for a repo that does not exist (or is private) and says which in X-Error-Code.
    const code = res.headers.get('x-error-code');
    if (code === 'RepoNotFound') throw new SourceError(`${this.id}: no such model on ${this.endpoint} (or it is private: set a token)`);
    if (code === 'RevisionNotFound') throw new SourceError(`${this.id}: revision "${this.revision}" does not exist`);
    if (code === 'GatedRepo') throw new SourceError(`${this.id}: the model is gated; accept its licence on the Hub and use a token`);
    if (res.status === 404) {
      await cache?.setMissing(url);
      return null;
    }
    if (res.status === 401 || res.status === 403) throw new SourceError(`${this.id}: HTTP ${res.status} for ${file}: the model is gated or private, or does not exist`);
    if (!res.ok) throw new SourceError(`${this.id}: HTTP ${res.status} ${res.statusText} for ${file} from ${url}`);
    const commit = res.headers.get('x-repo-commit');
    if (commit) await this.learnCommit(commit);
    const body = bodyStream(res, file);
    const tracked = trackedStream(file, body.size, body.chunks, onProgress);
    const writer = cache ? await cache.writer(url, file, body.size) : null;
    return writer ? { size: body.size, chunks: storedWhileRead(tracked.chunks, writer) } : tracked;
  }
}

function commitOf(bytes: Uint8Array | null): string | null {
  if (!bytes) return null;
  try {
    const info = JSON.parse(new TextDecoder().decode(bytes)) as { sha?: unknown };
    return typeof info.sha === 'string' && info.sha !== '' ? info.sha : null;
  } catch {
    return null;
  }
}
