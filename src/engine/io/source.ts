// Where model files come from: one interface over a local folder, browser File objects and the
// Hugging Face Hub (or any server with the Hub's URL layout).

export interface FileProgress {
  file: string;
  loaded: number;
  /** null when the server did not say how large the file is. */
  total: number | null;
}
export type ProgressCallback = (p: FileProgress) => void;

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
  /** The file's bytes, or null when the source has no such file. Other failures throw. */
  tryRead(file: string, onProgress?: ProgressCallback): Promise<Uint8Array | null>;
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
  constructor(readonly id: string, files: Iterable<{ name: string; blob: Blob }>) {
    for (const f of files) this.byName.set(f.name.split('/').pop() as string, f.blob);
  }
  async resolvedRevision(): Promise<string | null> {
    return null;
  }
  async tryRead(file: string, onProgress?: ProgressCallback): Promise<Uint8Array | null> {
    const blob = this.byName.get(file);
    if (!blob) return null;
    const bytes = new Uint8Array(await blob.arrayBuffer());
    onProgress?.({ file, loaded: bytes.byteLength, total: bytes.byteLength });
    return bytes;
  }
}
