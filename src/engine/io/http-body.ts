import { SourceError, type ProgressCallback } from './source.ts';

/**
 * Reads a response body, reporting bytes as they arrive. The Hub gives an LFS file's size in
 * X-Linked-Size; a compressed body's Content-Length is not the file size, so it is not checked.
 */
export async function readBody(res: Response, file: string, onProgress?: ProgressCallback): Promise<Uint8Array> {
  const compressed = res.headers.get('content-encoding') !== null;
  const header = res.headers.get('x-linked-size') ?? (compressed ? null : res.headers.get('content-length'));
  const total = header !== null && Number.isFinite(Number(header)) ? Number(header) : null;
  if (!res.body) {
    const bytes = new Uint8Array(await res.arrayBuffer());
    onProgress?.({ file, loaded: bytes.byteLength, total: bytes.byteLength });
    return bytes;
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  onProgress?.({ file, loaded: 0, total });
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.byteLength;
    onProgress?.({ file, loaded, total });
  }
  if (total !== null && !compressed && loaded !== total) throw new SourceError(`${file}: download ended after ${loaded} of ${total} bytes`);
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(loaded);
  let pos = 0;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.byteLength;
  }
  return out;
}
