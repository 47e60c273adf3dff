// Where model files come from: one interface over a local folder, browser File objects and the
// Hugging Face Hub (or any server with the Hub's URL layout).

export interface FileProgress {
  file: string;
  loaded: number;
  /** null when the server did not say how large the file is. */
  total: number | null;
  /** Read from the browser's cache rather than the network. */
  cached?: boolean;
}
export type ProgressCallback = (p: FileProgress) => void;

/**
 * A file read piece by piece, so that no file is ever held whole in one buffer: a 2 GB weights
 * file would not fit in one ArrayBuffer in a browser, and consumers copy out what they keep.
 */
export interface ByteStream {
  /** The file's size when the source knows it before reading (null for a compressed HTTP body). */
  size: number | null;
  /** The bytes in file order, in pieces of whatever size the source delivers. Iterate once. */
  chunks: AsyncIterable<Uint8Array>;
}

export class SourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceError';
  }
}

export interface ModelSource {
  readonly kind: 'folder' | 'files' | 'hub';
  /** Hub id (`org/name`) or the folder's name/path: what an adapter's `base_model_name_or_path` should say. */
  readonly id: string;
  /** The revision asked for (Hub only). */
  readonly revision: string | null;
  /** The commit the files were actually read from (Hub only; null where unknown). */
  resolvedRevision(): Promise<string | null>;
  /** The file's bytes in one buffer, or null when the source has no such file (for small files: JSON, tokenizers). Other failures throw. */
  tryRead(file: string, onProgress?: ProgressCallback): Promise<Uint8Array | null>;
  /** The file as a stream of pieces (for weights), or null when the source has no such file. Progress is reported as pieces are read. */
  tryOpen(file: string, onProgress?: ProgressCallback): Promise<ByteStream | null>;
}

/**
 * Reports progress as the consumer pulls pieces, and fails with the file's name when a stream
 * whose size was announced ends early or runs long (a cut connection, a truncated cache entry).
 */
export function trackedStream(file: string, size: number | null, chunks: AsyncIterable<Uint8Array>, onProgress?: ProgressCallback, cached = false): ByteStream {
  async function* tracked(): AsyncGenerator<Uint8Array> {
    let loaded = 0;
    onProgress?.({ file, loaded, total: size, cached });
    for await (const chunk of chunks) {
      if (chunk.byteLength === 0) continue;
      loaded += chunk.byteLength;
      if (size !== null && loaded > size) throw new SourceError(`${file}: more than the announced ${size} bytes arrived`);
      onProgress?.({ file, loaded, total: size, cached });
      yield chunk;
    }
    if (size !== null && loaded !== size) throw new SourceError(`${file}: ${cached ? 'the cached copy' : 'the download'} ended after ${loaded} of ${size} bytes`);
    // A file of unknown size ends here: report its final size as its total.
    if (size === null) onProgress?.({ file, loaded, total: loaded, cached });
  }
  return { size, chunks: tracked() };
}

/** Concatenates a (small) stream into one buffer. */
export async function readAll(stream: ByteStream): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let length = 0;
  for await (const c of stream.chunks) {
    parts.push(c);
    length += c.byteLength;
  }
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(length);
  let pos = 0;
  for (const c of parts) {
    out.set(c, pos);
    pos += c.byteLength;
  }
  return out;
}

export async function readFile(source: ModelSource, file: string, onProgress?: ProgressCallback): Promise<Uint8Array> {
  const bytes = await source.tryRead(file, onProgress);
  if (!bytes) throw new SourceError(`${describeSource(source)} has no file ${file}`);
  return bytes;
}

export function parseJsonFile(bytes: Uint8Array, file: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new SourceError(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

export async function readJson(source: ModelSource, file: string): Promise<unknown> {
  return parseJsonFile(await readFile(source, file), file);
}

export async function tryReadJson(source: ModelSource, file: string): Promise<unknown | null> {
  const bytes = await source.tryRead(file);
  return bytes ? parseJsonFile(bytes, file) : null;
}

export function describeSource(source: ModelSource): string {
  if (source.kind === 'hub') return `Hub model ${source.id}@${source.revision ?? 'main'}`;
  return `folder ${source.id}`;
}

/** Browser `File`s (from a directory picker or drag and drop), matched by base name. */
export class FilesSource implements ModelSource {
  readonly kind = 'files';
  readonly revision = null;
  private readonly byName = new Map<string, Blob>();
  constructor(
    readonly id: string,
    files: Iterable<{ name: string; blob: Blob }>,
    private readonly sliceBytes = BLOB_SLICE_BYTES,
  ) {
    for (const f of files) this.byName.set(f.name.split('/').pop() as string, f.blob);
  }
  async resolvedRevision(): Promise<string | null> {
    return null;
  }
  async tryRead(file: string, onProgress?: ProgressCallback): Promise<Uint8Array | null> {
    const stream = await this.tryOpen(file, onProgress);
    return stream && readAll(stream);
  }
  async tryOpen(file: string, onProgress?: ProgressCallback): Promise<ByteStream | null> {
    const blob = this.byName.get(file);
    if (!blob) return null;
    return trackedStream(file, blob.size, blobSlices(blob, file, this.sliceBytes), onProgress);
  }
}

/** Pieces of a picked file, read by slices so that a file larger than an ArrayBuffer can hold still loads. */
export const BLOB_SLICE_BYTES = 16 * 1024 * 1024;

async function* blobSlices(blob: Blob, file: string, sliceBytes: number): AsyncGenerator<Uint8Array> {
  for (let pos = 0; pos < blob.size; pos += sliceBytes) {
    let slice: ArrayBuffer;
    try {
      slice = await blob.slice(pos, Math.min(blob.size, pos + sliceBytes)).arrayBuffer();
    } catch (e) {
      // A File changed or removed on disk after it was picked reads as NotReadableError.
      throw new SourceError(`${file}: could not read the local file at byte ${pos} (${(e as Error).message}); pick the folder again`);
    }
    yield new Uint8Array(slice);
  }
}
