import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ModelSource, ProgressCallback } from '../engine/io/source.ts';

/** A model folder on disk in Hugging Face layout. */
export class FolderSource implements ModelSource {
  readonly kind = 'folder';
  readonly revision = null;
  readonly id: string;
  constructor(readonly dir: string, id?: string) {
    this.id = id ?? path.basename(path.resolve(dir));
  }
  async resolvedRevision(): Promise<string | null> {
    return null;
  }
  async tryRead(file: string, onProgress?: ProgressCallback): Promise<Uint8Array | null> {
    const full = path.join(this.dir, file);
    try {
      if (!(await stat(full)).isFile()) return null;
    } catch {
      return null;
    }
    const buf = await readFile(full);
    const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    onProgress?.({ file, loaded: bytes.byteLength, total: bytes.byteLength });
    return bytes;
  }
}
