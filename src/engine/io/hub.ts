import { readBody } from './http-body.ts';
import { SourceError, type ModelSource, type ProgressCallback } from './source.ts';

export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

/** Stores downloaded files by URL (Cache Storage in the browser). */
export interface FileCache {
  get(url: string): Promise<Uint8Array | null>;
  put(url: string, bytes: Uint8Array): Promise<void>;
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

  constructor(ref: HubRef, private readonly options: HubOptions = {}) {
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
    try {
      const res = await this.fetchFn(`${this.endpoint}/api/models/${this.id}/revision/${encodeURIComponent(this.revision)}`, { headers: this.headers() });
      if (res.ok) {
        const info = (await res.json()) as { sha?: unknown };
        if (typeof info.sha === 'string') this.commit = info.sha;
      }
    } catch {
      // The API is optional: the resolve responses' X-Repo-Commit header is used instead.
    }
    return this.commit;
  }

  async tryRead(file: string, onProgress?: ProgressCallback): Promise<Uint8Array | null> {
    const url = this.url(file);
    const cached = await this.options.cache?.get(url);
    if (cached) {
      onProgress?.({ file, loaded: cached.byteLength, total: cached.byteLength });
      return cached;
    }
    let res: Response;
    try {
      res = await this.fetchFn(url, { headers: this.headers() });
    } catch (e) {
      throw new SourceError(`${this.id}: could not reach ${this.endpoint} for ${file} (${(e as Error).message})`);
    }
    // The Hub answers 401 for a repo that does not exist (or is private) and says which in X-Error-Code.
    const code = res.headers.get('x-error-code');
    if (code === 'RepoNotFound') throw new SourceError(`${this.id}: no such model on ${this.endpoint} (or it is private: set a token)`);
    if (code === 'RevisionNotFound') throw new SourceError(`${this.id}: revision "${this.revision}" does not exist`);
    if (code === 'GatedRepo') throw new SourceError(`${this.id}: the model is gated; accept its licence on the Hub and use a token`);
    if (res.status === 404) return null;
    if (res.status === 401 || res.status === 403) throw new SourceError(`${this.id}: HTTP ${res.status} for ${file}: the model is gated or private, or does not exist`);
    if (!res.ok) throw new SourceError(`${this.id}: HTTP ${res.status} ${res.statusText} for ${file} from ${url}`);
    const commit = res.headers.get('x-repo-commit');
    if (commit && !this.commit) this.commit = commit;
    const bytes = await readBody(res, file, onProgress);
    await this.options.cache?.put(url, bytes);
    return bytes;
  }
}
