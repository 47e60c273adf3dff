// The data and prompt panels' token previews: an example as the trainer encodes it (which tokens
// the loss is taken on), and the ids a TEXT init starts the prompt from.
import type { Example } from '../engine/data/examples.ts';
import { previewExample } from '../engine/data/preview.ts';
import { exampleBudget } from '../engine/data/training-set.ts';
import type { LoadedModel } from '../engine/load.ts';
import { textInitIds } from '../engine/prompt/init.ts';
import type { ExamplePreview, InitTextPreview, TokenView } from './protocol.ts';

function tokenViews(lm: LoadedModel, ids: number[]): TokenView[] {
  return ids.map((id) => ({ id, text: lm.tokenizer.token(id) }));
}

export function examplePreview(lm: LoadedModel, example: Example, maxLength: number | null, numVirtualTokens: number): ExamplePreview {
  const budget = exampleBudget(lm.model.config.contextLength, numVirtualTokens, maxLength);
  const p = previewExample(lm.tokenizer, example, lm.eosTokenId, budget);
  const special = new Set([lm.tokenizer.bosTokenId, lm.eosTokenId].filter((x) => x !== null));
  return {
    tokens: p.tokens.map((t) => ({ id: t.id, text: t.piece, role: t.role === 'input' && special.has(t.id) ? 'special' : t.role })),
    inputTokens: p.inputTokens,
    targetTokens: p.targetTokens,
    truncated: p.truncated,
    dropped: p.dropped,
  };
}

export function initTextPreview(lm: LoadedModel, text: string, numVirtualTokens: number): InitTextPreview {
  const own = lm.tokenizer.encode(text);
  const ids = textInitIds(lm.tokenizer, text, numVirtualTokens);
  return {
    textTokens: tokenViews(lm, own),
    promptTokens: tokenViews(lm, ids),
    mode: own.length === numVirtualTokens ? 'exact' : own.length > numVirtualTokens ? 'cut' : 'repeated',
  };
}
