// (input, target) → token ids and labels, as PEFT's prompt-tuning cookbook builds them:
// input_ids = tokenizer(input) + tokenizer(target, no special tokens) + [eos]; loss only on
// the target tokens and the EOS.
import { IGNORE_INDEX } from '../prompt/batch.ts';
import type { TextTokenizer } from '../tokenizer.ts';
import type { Example } from './examples.ts';

export interface EncodedExample {
  inputIds: number[];
  labels: number[];
  /** Length of the input part (the tokens the model is conditioned on). */
  inputLength: number;
  truncated: boolean;
}

/** Tokens ids of the input and of the target (with EOS) before any truncation. */
export function tokenizeExample(tokenizer: TextTokenizer, example: Example, eosTokenId: number): { input: number[]; target: number[] } {
  return { input: tokenizer.encode(example.input), target: [...tokenizer.encode(example.target, false), eosTokenId] };
}

/**
 * Fits one example into `maxLength` tokens. An over-long example loses tokens from the start
 * of its input (after any leading special tokens the tokenizer adds), so the end of the
 * template (e.g. "Label :") and the whole target survive; a target longer than the budget is cut.
 */
export function encodeExample(tokenizer: TextTokenizer, example: Example, eosTokenId: number, maxLength: number): EncodedExample {
  let { input, target } = tokenizeExample(tokenizer, example, eosTokenId);
  let truncated = false;
  if (input.length + target.length > maxLength) {
    truncated = true;
    const lead = tokenizer.bosTokenId !== null && input[0] === tokenizer.bosTokenId ? 1 : 0;
    const room = Math.max(lead, maxLength - target.length);
    input = room > lead ? [...input.slice(0, lead), ...input.slice(input.length - (room - lead))] : input.slice(0, lead);
    target = target.slice(0, maxLength - input.length);
  }
  return {
    inputIds: [...input, ...target],
    labels: [...new Array<number>(input.length).fill(IGNORE_INDEX), ...target],
    inputLength: input.length,
    truncated,
  };
}

export interface LengthStats {
  count: number;
  min: number;
  mean: number;
  p95: number;
  max: number;
  truncated: number;
}

export function lengthStats(encoded: EncodedExample[]): LengthStats {
  const lengths = encoded.map((e) => e.inputIds.length).sort((a, b) => a - b);
  const n = lengths.length;
  return {
    count: n,
    min: lengths[0] ?? 0,
    mean: n ? lengths.reduce((a, b) => a + b, 0) / n : 0,
    p95: lengths[Math.min(n - 1, Math.floor(0.95 * n))] ?? 0,
    max: lengths[n - 1] ?? 0,
    truncated: encoded.filter((e) => e.truncated).length,
  };
}
