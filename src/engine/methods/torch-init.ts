// PyTorch's default initialisations, drawn from the engine's seeded generator (torch's own RNG
// stream cannot be reproduced, so values differ but distributions are the same).
import { Rng } from '../random.ts';

/** n values from U(-bound, bound). */
export function uniform(rng: Rng, n: number, bound: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (2 * rng.next() - 1) * bound;
  return out;
}

/** n values from N(0, 1): nn.Embedding's init. */
export function standardNormal(rng: Rng, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal();
  return out;
}

/**
 * nn.Linear's weight [out, in] and bias [out]: kaiming_uniform_(a = sqrt(5)) is U(±1/sqrt(in)),
 * and the bias U(±1/sqrt(in)) too. LoRA's A uses the same kaiming_uniform_ (PEFT reset_lora_parameters).
 */
export function linearInit(rng: Rng, out: number, inp: number): { weight: Float32Array; bias: Float32Array } {
  const bound = 1 / Math.sqrt(inp);
  return { weight: uniform(rng, out * inp, bound), bias: uniform(rng, out, bound) };
}

/** Concatenates arrays into one flat array (a method's values in `params` order). */
export function concatValues(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
