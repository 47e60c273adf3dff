// safetensors read as bytes arrive: the header is parsed from the first bytes, then each tensor's
// bytes are copied into a buffer of their own as soon as they pass by. No buffer the size of the
// file exists at any point (a 2.2 GB F32 checkpoint does not fit in one browser ArrayBuffer), and
// each tensor can be dropped on its own once the model has uploaded it.
import { MAX_HEADER_BYTES, SafetensorsError, decodeFloat, parseHeader, type FloatTensor, type RawTensor, type SafetensorsHeader, type TensorEntry } from './safetensors.ts';
import type { ByteStream } from './source.ts';

/** What a streamed read allocated: the test of "never the whole file in one buffer". */
export interface StreamStats {
  /** Size of the file as read. */
  bytes: number;
  /** Pieces the source delivered, and the largest. */
  chunks: number;
  largestChunk: number;
  /** The largest buffer the parser allocated (the header or one tensor). */
  largestBuffer: number;
}

/** One safetensors file, each tensor in its own buffer. */
export class StreamedSafetensors {
  constructor(
    readonly file: string,
    readonly header: SafetensorsHeader,
    private readonly data: Map<string, Uint8Array | null>,
    readonly stats: StreamStats,
  ) {}

  /** Names in file order. */
  names(): string[] {
    return [...this.header.tensors.keys()];
  }

  has(name: string): boolean {
    return this.header.tensors.has(name);
  }

  entry(name: string): TensorEntry {
    const t = this.header.tensors.get(name);
    if (!t) throw new SafetensorsError(this.file, `has no tensor "${name}"`);
    return t;
  }

  /** The stored bytes (a buffer of their own, so 8-byte aligned: typed-array views need no copy). */
  raw(name: string): RawTensor {
    const t = this.entry(name);
    const bytes = this.data.get(name);
    if (!bytes) throw new SafetensorsError(this.file, `tensor "${name}" was already released (the model took it); load the checkpoint again to read it`);
    return { dtype: t.dtype, shape: t.shape, bytes };
  }

  /** Float32 values; an F32 tensor's are a view of the stored bytes (no second copy of a 1 GB embedding), so do not write to them. */
  get(name: string): FloatTensor {
    const { dtype, shape, bytes } = this.raw(name);
    if (dtype === 'F32') return { shape, data: new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4) };
    return { shape, data: decodeFloat(bytes, dtype, this.file, name) };
  }

  /** Drops one tensor's bytes. */
  release(name: string): void {
    if (this.data.has(name)) this.data.set(name, null);
  }

  /** Bytes still held. */
  heldBytes(): number {
    let n = 0;
    for (const b of this.data.values()) n += b?.byteLength ?? 0;
    return n;
  }
}

interface Slot {
  name: string;
  entry: TensorEntry;
  bytes: Uint8Array | null;
}

/**
 * Push parser: feed pieces in file order with `push`, then `end`. Pieces may split anywhere,
 * including inside the 8-byte length or the JSON header. `size` (when known) bounds the offsets.
 */
export class SafetensorsStreamParser {
  private readonly prefix = new Uint8Array(8);
  private headerBuf: Uint8Array | null = null;
  private header: SafetensorsHeader | null = null;
  private slots: Slot[] = [];
  private next = 0;
  /** File offset of the next byte to arrive. */
  private pos = 0;
  private readonly stats: StreamStats = { bytes: 0, chunks: 0, largestChunk: 0, largestBuffer: 0 };

  constructor(
    readonly file: string,
    private readonly size: number | null = null,
  ) {}

  push(chunk: Uint8Array): void {
    this.stats.chunks += 1;
    this.stats.largestChunk = Math.max(this.stats.largestChunk, chunk.byteLength);
    let at = 0;
    while (at < chunk.byteLength) at += this.consume(chunk, at);
    this.stats.bytes = this.pos;
  }

  /** Takes bytes from chunk[at..]; returns how many. */
  private consume(chunk: Uint8Array, at: number): number {
    const avail = chunk.byteLength - at;
    if (this.pos < 8) {
      const n = Math.min(avail, 8 - this.pos);
      this.prefix.set(chunk.subarray(at, at + n), this.pos);
      this.pos += n;
      if (this.pos === 8) this.startHeader();
      return n;
    }
    if (!this.header) {
      const buf = this.headerBuf as Uint8Array;
      const n = Math.min(avail, buf.byteLength - this.pos);
      buf.set(chunk.subarray(at, at + n), this.pos);
      this.pos += n;
      if (this.pos === buf.byteLength) this.finishHeader();
      return n;
    }
    const dataPos = this.pos - this.header.dataStart;
    const slot = this.slots[this.next];
    if (!slot) {
      // Past the last tensor: bytes the header does not describe (padding), skipped.
      this.pos += avail;
      return avail;
    }
    const { begin, end } = slot.entry;
    if (dataPos < begin) {
      // A gap between tensors.
      const n = Math.min(avail, begin - dataPos);
      this.pos += n;
      return n;
    }
    if (!slot.bytes) slot.bytes = this.allocate(end - begin);
    const n = Math.min(avail, end - dataPos);
    slot.bytes.set(chunk.subarray(at, at + n), dataPos - begin);
    this.pos += n;
    if (dataPos + n === end) this.advance();
    return n;
  }

  private allocate(n: number): Uint8Array {
    this.stats.largestBuffer = Math.max(this.stats.largestBuffer, n);
    return new Uint8Array(n);
  }

  private startHeader(): void {
    const view = new DataView(this.prefix.buffer);
    const headerLen = view.getUint32(4, true) * 2 ** 32 + view.getUint32(0, true);
    if (headerLen > MAX_HEADER_BYTES) throw new SafetensorsError(this.file, `header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file, or corrupt)`);
    if (this.size !== null && 8 + headerLen > this.size) throw new SafetensorsError(this.file, `header length ${headerLen} runs past the end of the ${this.size}-byte file (truncated download?)`);
    this.headerBuf = this.allocate(8 + headerLen);
    this.headerBuf.set(this.prefix);
    if (headerLen === 0) this.finishHeader();
  }

  private finishHeader(): void {
    const buf = this.headerBuf as Uint8Array;
    // Without a known size the offsets are checked against what actually arrives, in end().
    this.header = parseHeader(buf, this.file, this.size ?? Number.MAX_SAFE_INTEGER);
    this.headerBuf = null;
    this.slots = [...this.header.tensors].map(([name, entry]) => ({ name, entry, bytes: null as Uint8Array | null })).sort((a, b) => a.entry.begin - b.entry.begin || a.entry.end - b.entry.end);
    this.advance();
  }

  /** Moves past complete tensors; empty tensors are complete at once. */
  private advance(): void {
    if (this.slots[this.next]?.bytes && this.pos - (this.header as SafetensorsHeader).dataStart >= this.slots[this.next].entry.end) this.next += 1;
    while (this.slots[this.next] && this.slots[this.next].entry.end === this.slots[this.next].entry.begin) {
      this.slots[this.next].bytes = new Uint8Array(0);
      this.next += 1;
    }
  }

  /** The parsed file; throws naming the file and where it stopped when bytes are missing. */
  end(): StreamedSafetensors {
    if (this.pos < 8) throw new SafetensorsError(this.file, `ended after ${this.pos} bytes, too short to be a safetensors file (needs an 8-byte header length)`);
    if (!this.header) throw new SafetensorsError(this.file, `ended after ${this.pos} bytes, inside its ${(this.headerBuf as Uint8Array).byteLength - 8}-byte header (truncated download?)`);
    const missing = this.slots[this.next];
    if (missing) {
      const need = this.header.dataStart + missing.entry.end;
      throw new SafetensorsError(this.file, `ended after ${this.pos} bytes, inside tensor "${missing.name}" which runs to byte ${need} (truncated download?)`);
    }
    if (this.size !== null && this.pos !== this.size) throw new SafetensorsError(this.file, `ended after ${this.pos} of ${this.size} bytes (truncated download?)`);
    this.stats.bytes = this.pos;
    return new StreamedSafetensors(this.file, this.header, new Map(this.slots.map((s) => [s.name, s.bytes])), { ...this.stats });
  }
}

/** Reads a safetensors stream to its end, keeping each tensor in its own buffer. */
export async function readSafetensorsStream(stream: ByteStream, file: string): Promise<StreamedSafetensors> {
  const parser = new SafetensorsStreamParser(file, stream.size);
  for await (const chunk of stream.chunks) parser.push(chunk);
  return parser.end();
}
