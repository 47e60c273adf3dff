import { SourceError, type ByteStream } from './source.ts';

/**
 * A response body as a stream of pieces, with its size when the server says it. The Hub gives an
 * LFS file's size in X-Linked-Size; a compressed body's Content-Length is not the file size.
 */
export function bodyStream(res: Response, file: string): ByteStream {
  const compressed = res.headers.get('content-encoding') !== null;
  const header = res.headers.get('x-linked-size') ?? (compressed ? null : res.headers.get('content-length'));
  const size = header !== null && header !== '' && Number.isSafeInteger(Number(header)) ? Number(header) : null;
  return { size, chunks: bodyChunks(res, file) };
}

async function* bodyChunks(res: Response, file: string): AsyncGenerator<Uint8Array> {
  if (!res.body) {
    yield new Uint8Array(await res.arrayBuffer());
    return;
  }
  const reader = res.body.getReader();
  let loaded = 0;
  try {
    for (;;) {
      let step: ReadableStreamReadResult<Uint8Array>;
      try {
        step = await reader.read();
      } catch (e) {
        throw new SourceError(`${file}: the download broke off after ${loaded} bytes (${(e as Error).message})`);
      }
      if (step.done) return;
      loaded += step.value.byteLength;
      yield step.value;
    }
  } finally {
    // The consumer stopped early (a bad header, say): stop the download too. A no-op after the end.
    void reader.cancel().catch(() => undefined);
  }
}
