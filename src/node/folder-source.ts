import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { SourceError, readAll, trackedStream, type ByteStream, type ModelSource, type ProgressCallback } from '../engine/io/source.ts';

/** Pieces a folder's file is read in: weights files stream, so a file over 2 GiB (Node's readFile limit) loads. */
export const FOLDER_CHUNK_BYTES = 4 * 1024 * 1024;

/** A model folder on disk in Hugging Face layout. */
export class FolderSource implements ModelSource {
  readonly kind = 'folder';
  readonly revision = null;
  readonly id: string;
  constructor(
    readonly dir: string,
    id?: string,
  ) {
    this.id = id ?? path.basename(path.resolve(dir));
  }
  async resolvedRevision(): Promise<string | null> {
    return null;
  }
  async tryRead(file: string, onProgress?: ProgressCallback): Promise<Uint8Array | null> {
    const stream = await this.tryOpen(file, onProgress);
    return stream && readAll(stream);
  }
  async tryOpen(file: string, onProgress?: ProgressCallback): Promise<ByteStream | null> {
    const full = path.join(this.dir, file);
    let size: number;
    try {
      const s = await stat(full);
      if (!s.isFile()) return null;
      size = s.size;
    } catch {
      return null;
    }
    return trackedStream(file, size, fileChunks(full, file), onProgress);
  }
}

async function* fileChunks(full: string, file: string): AsyncGenerator<Uint8Array> {
  const stream = createReadStream(full, { highWaterMark: FOLDER_CHUNK_BYTES });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  } catch (e) {
    throw new SourceError(`${file}: could not read ${full} (${(e as Error).message})`);
  } finally {
    stream.destroy();
  }
}
