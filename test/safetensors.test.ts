import { describe, expect, it } from 'vitest';
import { decodeFloat, parseSafetensors, writeSafetensors, SafetensorsError } from '../src/engine/io/safetensors.ts';

function fileWithHeader(header: unknown, dataBytes = 0, rawHeader?: string): Uint8Array {
  const json = new TextEncoder().encode(rawHeader ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  return out;
}

describe('safetensors', () => {
  it('round-trips F32 tensors with metadata, sorted by name', () => {
    const a = { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) };
    const b = { shape: [1], data: Float32Array.from([-0.5]) };
    const bytes = writeSafetensors({ zeta: a, alpha: b }, { format: 'pt' });
    const parsed = parseSafetensors(bytes, 'x.safetensors');
    expect(parsed.names()).toEqual(['alpha', 'zeta']);
    expect(parsed.header.metadata).toEqual({ format: 'pt' });
    expect(parsed.header.dataStart % 8).toBe(0);
    expect(Array.from(parsed.get('zeta').data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(parsed.get('zeta').shape).toEqual([2, 3]);
  });

  it('widens F16 and BF16 to float32', () => {
    const f16 = new Uint16Array([0x3c00, 0xc000, 0x3555, 0x0001, 0x7c00]); // 1, -2, ~0.333, subnormal, inf
    const out = decodeFloat(new Uint8Array(f16.buffer), 'F16', 'f', 't');
    expect(out[0]).toBe(1);
    expect(out[1]).toBe(-2);
    expect(out[2]).toBeCloseTo(0.33325, 5);
    expect(out[3]).toBeCloseTo(2 ** -24, 30);
    expect(out[4]).toBe(Infinity);
    const bf16 = new Uint16Array([0x3f80, 0xbf00, 0x4049]); // 1, -0.5, 3.140625
    expect(Array.from(decodeFloat(new Uint8Array(bf16.buffer), 'BF16', 'f', 't'))).toEqual([1, -0.5, 3.140625]);
  });

  it('reads F16 tensors from a file at any alignment', () => {
    const header = { w: { dtype: 'F16', shape: [3], data_offsets: [0, 6] } };
    const bytes = fileWithHeader(header, 6, JSON.stringify(header) + ' ');
    const start = bytes.length - 6;
    bytes.set(new Uint8Array(new Uint16Array([0x3c00, 0x4000, 0x4200]).buffer), start);
    expect(Array.from(parseSafetensors(bytes, 'h.safetensors').get('w').data)).toEqual([1, 2, 3]);
  });

  const bad: [string, () => Uint8Array, RegExp][] = [
    ['a file shorter than 8 bytes', () => new Uint8Array(4), /too short/],
    [
      'a header length past the end of the file',
      () => {
        const b = new Uint8Array(16);
        new DataView(b.buffer).setUint32(0, 1000, true);
        return b;
      },
      /runs past the end/,
    ],
    [
      'a header length over the limit',
      () => {
        const b = new Uint8Array(16);
        new DataView(b.buffer).setUint32(4, 1, true);
        return b;
      },
      /exceeds/,
    ],
    ['a header that is not JSON', () => fileWithHeader(null, 0, '{"a": '), /not valid UTF-8 JSON/],
    ['a header that is a list', () => fileWithHeader([1, 2]), /must be an object/],
    ['an unknown dtype', () => fileWithHeader({ w: { dtype: 'F8', shape: [1], data_offsets: [0, 1] } }, 1), /unknown dtype "F8"/],
    ['a bad shape', () => fileWithHeader({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4), /shape must be/],
    ['offsets past the data', () => fileWithHeader({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, 4), /run past the data section/],
    ['offsets not matching the shape', () => fileWithHeader({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, 8), /needs 8 bytes/],
    ['reversed offsets', () => fileWithHeader({ w: { dtype: 'F32', shape: [0], data_offsets: [4, 0] } }, 4), /before begin/],
    ['overlapping tensors', () => fileWithHeader({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12), /overlap/],
    ['non-string metadata', () => fileWithHeader({ __metadata__: { format: 1 } }), /__metadata__.format must be a string/],
  ];
  for (const [what, make, message] of bad) {
    it(`rejects ${what}, naming the file`, () => {
      const err = (() => {
        try {
          parseSafetensors(make(), 'broken.safetensors');
        } catch (e) {
          return e as Error;
        }
        throw new Error('no error');
      })();
      expect(err).toBeInstanceOf(SafetensorsError);
      expect(err.message).toMatch(/^broken\.safetensors: /);
      expect(err.message).toMatch(message);
    });
  }

  it('refuses integer tensors as weights', () => {
    const bytes = fileWithHeader({ ids: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, 8);
    expect(() => parseSafetensors(bytes, 'i.safetensors').get('ids')).toThrow(/only F32, F16, BF16 and F64/);
  });
});
