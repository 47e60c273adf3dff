// Files of a model folder served over HTTP at `{baseUrl}/{file}` (the playground's embedded models).
import { bodyStream } from './http-body.ts';
import { SourceError, readAll, trackedStream, type ByteStream, type ModelSource, type ProgressCallback } from './source.ts';

export class UrlFolderSource implements ModelSource {
  readonly kind = 'folder';
  readonly revision = null;
  private readonly base: string;
  private readonly fetchFn: typeof fetch;

  /** `id` is what an adapter names as its base model (e.g. "playground-demo"). */
  constructor(
    readonly id: string,
    baseUrl: string,
    fetchFn?: typeof fetch,
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
    this.fetchFn = fetchFn ?? globalThis.fetch.bind(globalThis);
  }

  async resolvedRevision(): Promise<string | null> {
    return null;
  }

  async tryRead(file: string, onProgress?: ProgressCallback): Promise<Uint8Array | null> {
    const stream = await this.tryOpen(file, onProgress);
    return stream && readAll(stream);
  }

  async tryOpen(file: string, onProgress?: ProgressCallback): Promise<ByteStream | null> {
    const url = `${this.base}/${file}`;
    let res: Response;
    try {
      res = await this.fetchFn(url);
    } catch (e) {
      throw new SourceError(`${this.id}: could not fetch ${url} (${(e as Error).message})`);
    }
    if (res.status === 404) return null;
    if (!res.ok) throw new SourceError(`${this.id}: HTTP ${res.status} ${res.statusText} for ${url}`);
    const type = res.headers.get('content-type') ?? '';
    // A server that answers every path with its index page has no such file either.
    if (type.startsWith('text/html')) return null;
    const body = bodyStream(res, file);
    return trackedStream(file, body.size, body.chunks, onProgress);
  }
}
