// The page's WASM thread count: half the logical processors, at most 4, and one thread without
// cross-origin isolation (no SharedArrayBuffer). All of them made this machine's steps slower.
import { describe, expect, it } from 'vitest';
import { wasmThreads } from '../src/worker/backend.ts';

describe('wasmThreads', () => {
  it('takes half the logical processors, at least 1 and at most 4', () => {
    expect([1, 2, 3, 4, 6, 8, 16, 64].map((n) => wasmThreads(true, n))).toEqual([1, 1, 2, 2, 3, 4, 4, 4]);
  });
  it('is 1 when the page is not cross-origin isolated', () => {
    expect(wasmThreads(false, 16)).toBe(1);
  });
});
