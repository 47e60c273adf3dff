// safetensors codec: https://github.com/huggingface/safetensors#format
// Every tensor is read into float32 (F16 and BF16 are widened), because the engine computes in
// float32 and PEFT's reference numbers are float32.

export type DType = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const DTYPE_BYTES: Record<DType, number> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  F64: 8,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};
/** Dtypes whose values the engine can widen to float32 (model weights and prompts). */
const FLOAT_DTYPES = new Set<DType>(['F32', 'F16', 'BF16', 'F64']);

/** Headers larger than this are refused; real checkpoints use a few hundred KiB at most. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export class SafetensorsError extends Error {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'SafetensorsError';
  }
}

export interface TensorEntry {
  dtype: DType;
  shape: number[];
  /** Byte range inside the data section (after the header). */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  tensors: Map<string, TensorEntry>;
  metadata: Record<string, string>;
  /** Offset of the data section from the start of the file. */
  dataStart: number;
}

export interface FloatTensor {
  shape: number[];
  data: Float32Array;
}

function product(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Reads and validates the header. `bytes` must hold at least the header; `fileSize` is the whole file's size. */
export function parseHeader(bytes: Uint8Array, file: string, fileSize = bytes.byteLength): SafetensorsHeader {
  if (fileSize < 8 || bytes.byteLength < 8) throw new SafetensorsError(file, `is ${fileSize} bytes, too short to be a safetensors file (needs an 8-byte header length)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = view.getUint32(0, true);
  const hi = view.getUint32(4, true);
  const headerLen = hi * 2 ** 32 + lo;
  if (headerLen > MAX_HEADER_BYTES) throw new SafetensorsError(file, `header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file, or corrupt)`);
  if (8 + headerLen > fileSize) throw new SafetensorsError(file, `header length ${headerLen} runs past the end of the ${fileSize}-byte file (truncated download?)`);
  if (8 + headerLen > bytes.byteLength) throw new SafetensorsError(file, `header is ${headerLen} bytes but only ${bytes.byteLength - 8} were read`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch (e) {
    throw new SafetensorsError(file, `header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new SafetensorsError(file, 'header JSON must be an object of tensor entries');
  const dataStart = 8 + headerLen;
  const dataSize = fileSize - dataStart;
  const tensors = new Map<string, TensorEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new SafetensorsError(file, '__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(raw)) if (typeof v !== 'string') throw new SafetensorsError(file, `__metadata__.${k} must be a string`);
      metadata = raw as Record<string, string>;
      continue;
    }
    if (raw === null || typeof raw !== 'object') throw new SafetensorsError(file, `tensor "${name}": entry must be an object with dtype, shape, data_offsets`);
    const { dtype, shape, data_offsets: offsets } = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES))
      throw new SafetensorsError(file, `tensor "${name}": unknown dtype ${JSON.stringify(dtype)} (known: ${Object.keys(DTYPE_BYTES).join(', ')})`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      throw new SafetensorsError(file, `tensor "${name}": shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0))
      throw new SafetensorsError(file, `tensor "${name}": data_offsets must be [begin, end], got ${JSON.stringify(offsets)}`);
    const [begin, end] = offsets as [number, number];
    if (end < begin) throw new SafetensorsError(file, `tensor "${name}": data_offsets end ${end} is before begin ${begin}`);
    if (end > dataSize) throw new SafetensorsError(file, `tensor "${name}": data_offsets [${begin}, ${end}] run past the data section (${dataSize} bytes)`);
    const expected = product(shape as number[]) * DTYPE_BYTES[dtype as DType];
    if (end - begin !== expected) throw new SafetensorsError(file, `tensor "${name}": ${dtype} ${JSON.stringify(shape)} needs ${expected} bytes but data_offsets span ${end - begin}`);
    tensors.set(name, { dtype: dtype as DType, shape: shape as number[], begin, end });
  }
  const spans = [...tensors.entries()].filter(([, t]) => t.end > t.begin).sort((a, b) => a[1].begin - b[1].begin);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i][1].begin < spans[i - 1][1].end) throw new SafetensorsError(file, `tensors "${spans[i - 1][0]}" and "${spans[i][0]}" overlap in the data section`);
  }
  return { tensors, metadata, dataStart };
}

function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/** Decodes one tensor's bytes into float32. */
export function decodeFloat(bytes: Uint8Array, dtype: DType, file: string, name: string): Float32Array {
  if (!FLOAT_DTYPES.has(dtype)) throw new SafetensorsError(file, `tensor "${name}" has dtype ${dtype}; only F32, F16, BF16 and F64 tensors can be used as weights`);
  const n = bytes.byteLength / DTYPE_BYTES[dtype];
  // Copy into an aligned buffer: the data section has no alignment guarantee.
  const aligned = new Uint8Array(bytes.byteLength);
  aligned.set(bytes);
  if (dtype === 'F32') return new Float32Array(aligned.buffer, 0, n);
  if (dtype === 'F64') return Float32Array.from(new Float64Array(aligned.buffer, 0, n));
  const halves = new Uint16Array(aligned.buffer, 0, n);
  const out = new Float32Array(n);
  if (dtype === 'BF16') {
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) bits[i] = halves[i] << 16;
  } else {
    for (let i = 0; i < n; i++) out[i] = f16ToF32(halves[i]);
  }
  return out;
}

/** One tensor's bytes exactly as the file stores them (little-endian, unaligned), with its dtype. */
export interface RawTensor {
  dtype: DType;
  shape: number[];
  bytes: Uint8Array;
}

export interface ParsedSafetensors {
  header: SafetensorsHeader;
  /** Names in file order. */
  names(): string[];
  has(name: string): boolean;
  entry(name: string): TensorEntry;
  /** The stored bytes of one tensor, not widened (a view, no copy). */
  raw(name: string): RawTensor;
  /** Float32 copy of one tensor. */
  get(name: string): FloatTensor;
}

/** Parses a whole safetensors file held in memory. Tensors are decoded lazily, one at a time. */
export function parseSafetensors(bytes: Uint8Array, file: string): ParsedSafetensors {
  const header = parseHeader(bytes, file);
  return {
    header,
    names: () => [...header.tensors.keys()],
    has: (name) => header.tensors.has(name),
    entry(name) {
      const t = header.tensors.get(name);
      if (!t) throw new SafetensorsError(file, `has no tensor "${name}"`);
      return t;
    },
    raw(name) {
      const t = this.entry(name);
      return { dtype: t.dtype, shape: t.shape, bytes: bytes.subarray(header.dataStart + t.begin, header.dataStart + t.end) };
    },
    get(name) {
      const { dtype, shape, bytes: data } = this.raw(name);
      return { shape, data: decodeFloat(data, dtype, file, name) };
    },
  };
}

/**
 * Writes tensors (sorted by name, as the Python library does) with optional metadata: F32 values,
 * or a RawTensor's bytes in its own dtype (a checkpoint's 16-bit weights passed through).
 */
export function writeSafetensors(tensors: Record<string, FloatTensor | RawTensor>, metadata?: Record<string, string>): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const bytesOf = (t: FloatTensor | RawTensor) => ('bytes' in t ? t.bytes : new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  let offset = 0;
  for (const name of names) {
    const t = tensors[name];
    if ('data' in t && t.data.length !== product(t.shape)) throw new Error(`writeSafetensors: tensor "${name}" has ${t.data.length} values for shape ${JSON.stringify(t.shape)}`);
    const n = bytesOf(t).byteLength;
    header[name] = { dtype: 'bytes' in t ? t.dtype : 'F32', shape: t.shape, data_offsets: [offset, offset + n] };
    offset += n;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data section starts 8-byte aligned, as the reference writer does.
  json += ' '.repeat((8 - ((8 + new TextEncoder().encode(json).length) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerBytes.length, true);
  view.setUint32(4, 0, true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const name of names) {
    const b = bytesOf(tensors[name]);
    out.set(b, pos);
    pos += b.byteLength;
  }
  return out;
}
