// Model specs from the UI → engine ModelSources. A Hub revision is resolved to its commit first,
// so the cached files are keyed by an immutable commit and the adapter pins exactly what was read.
import { HubSource, parseHubRef } from '../engine/io/hub.ts';
import { FilesSource, type ByteStream, type ModelSource, type ProgressCallback } from '../engine/io/source.ts';
import { UrlFolderSource } from '../engine/io/url-source.ts';
import type { CacheStorageFileCache } from './file-cache.ts';
import type { ModelSpec } from './protocol.ts';

class PinnedHubSource implements ModelSource {
  readonly kind = 'hub';
  constructor(
    private readonly asked: HubSource,
    private readonly pinned: HubSource,
    private readonly commit: string | null,
  ) {}
  get id(): string {
    return this.asked.id;
  }
  get revision(): string {
    return this.asked.revision;
  }
  async resolvedRevision(): Promise<string | null> {
    return this.commit ?? (await this.pinned.resolvedRevision());
  }
  tryRead(file: string, onProgress?: ProgressCallback): Promise<Uint8Array | null> {
    return this.pinned.tryRead(file, onProgress);
  }
  tryOpen(file: string, onProgress?: ProgressCallback): Promise<ByteStream | null> {
    return this.pinned.tryOpen(file, onProgress);
  }
}

export async function sourceFor(spec: ModelSpec, cache: CacheStorageFileCache): Promise<ModelSource> {
  if (spec.kind === 'embedded') return new UrlFolderSource(spec.name, new URL(spec.url, self.location.href).href);
  if (spec.kind === 'files')
    return new FilesSource(
      spec.name,
      spec.files.map((f) => ({ name: f.path, blob: f.file })),
    );
  const ref = parseHubRef(spec.ref);
  const options = { endpoint: spec.endpoint, cache, ...(spec.token ? { token: spec.token } : {}) };
  const asked = new HubSource(ref, options);
  const commit = await asked.resolvedRevision();
  if (!commit || commit === ref.revision) return asked;
  return new PinnedHubSource(asked, new HubSource({ id: ref.id, revision: commit }, options), commit);
}
