// The SIMD attention kernel (attention.wat) bound to the WASM backend's heap. It imports tfjs's
// own WebAssembly.Memory (shared in tfjs's threaded build, which the page uses when cross-origin
// isolated), so it reads q, k, v and the bias and writes o and p where tfjs keeps them, with no
// copies. Null where it cannot run (no WebAssembly SIMD): the JavaScript loop runs there instead.
import { ATTENTION_WASM } from './wasm-attention-binary.ts';

/** Pointers are byte offsets into the heap; see attention.wat for the layouts. */
export type SimdAttention = (
  q: number,
  k: number,
  v: number,
  bias: number,
  o: number,
  p: number,
  B: number,
  nh: number,
  nkv: number,
  T: number,
  S: number,
  hd: number,
  bh: number,
  scale: number,
  idx: number,
) => void;

const bound = new WeakMap<WebAssembly.Memory, SimdAttention | null>();

function bytes(base64: string): Uint8Array<ArrayBuffer> {
  const s = atob(base64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

export function simdAttention(memory: WebAssembly.Memory | undefined): SimdAttention | null {
  if (!memory) return null;
  let fn = bound.get(memory);
  if (fn === undefined) {
    try {
      // Compiled synchronously: the module is under a kilobyte (browsers allow 4 KB on the main thread).
      const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
      const binary = bytes(shared ? ATTENTION_WASM.shared : ATTENTION_WASM.plain);
      const instance = new WebAssembly.Instance(new WebAssembly.Module(binary), { env: { memory }, math: { exp: Math.exp } });
      fn = instance.exports.attention as SimdAttention;
    } catch {
      fn = null;
    }
    bound.set(memory, fn);
  }
  return fn;
}
