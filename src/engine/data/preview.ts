// One example as the trainer sees it, token by token: which tokens the model is conditioned on
// and which carry the loss (for the data panel's live preview).
import { IGNORE_INDEX } from '../prompt/batch.ts';
import type { TextTokenizer } from '../tokenizer.ts';
import { encodeExample, tokenizeExample } from './encode.ts';
import type { Example } from './examples.ts';

export type TokenRole = 'input' | 'target' | 'eos';

export interface PreviewToken {
  id: number;
  /** The vocabulary piece (e.g. "Ġcomplaint", "▁Label"). */
  piece: string;
  role: TokenRole;
}

export interface ExampleTokens {
  tokens: PreviewToken[];
  inputTokens: number;
  targetTokens: number;
  truncated: boolean;
  /** Input tokens dropped by truncation. */
  dropped: number;
}

export function previewExample(tokenizer: TextTokenizer, example: Example, eosTokenId: number, maxLength: number): ExampleTokens {
  const full = tokenizeExample(tokenizer, example, eosTokenId);
  const enc = encodeExample(tokenizer, example, eosTokenId, maxLength);
  const tokens = enc.inputIds.map((id, i): PreviewToken => {
    const loss = enc.labels[i] !== IGNORE_INDEX;
    return { id, piece: tokenizer.token(id), role: !loss ? 'input' : i === enc.inputIds.length - 1 && id === eosTokenId ? 'eos' : 'target' };
  });
  return {
    tokens,
    inputTokens: enc.inputLength,
    targetTokens: enc.inputIds.length - enc.inputLength,
    truncated: enc.truncated,
    dropped: full.input.length - enc.inputLength,
  };
}
