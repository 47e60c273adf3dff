import type { Example } from '../../engine/data/examples.ts';
import type { MethodName } from '../../worker/protocol.ts';

/** What the chosen method puts before (or beside) the example's tokens. */
const CHIP: Record<MethodName, (V: number) => { text: string; title: string } | null> = {
  prompt: (V) => ({ text: `[soft prompt × ${V}]`, title: `${V} virtual tokens: the soft prompt, prepended to every example` }),
  p_tuning: (V) => ({ text: `[P-tuning prompt × ${V}]`, title: `${V} virtual tokens from the prompt encoder, prepended to every example` }),
  prefix: (V) => ({ text: `[prefix × ${V} in every layer]`, title: `${V} trained keys and values before the tokens' own in every layer's attention` }),
  lora: () => null,
};
import { useEngineQuery } from '../engine/useEngineQuery.ts';
import { showPiece } from '../common/format.ts';

/** One example, token by token, as the trainer sees it: grey tokens are context, coloured ones carry the loss. */
export function TokenPreview(props: { example: Example; maxLength: number | null; numVirtualTokens: number; method?: MethodName; modelKey: string }) {
  const { example, maxLength, numVirtualTokens, modelKey } = props;
  const chip = CHIP[props.method ?? 'prompt'](numVirtualTokens);
  // modelKey: the answer depends on the model loaded in the worker, which the closure cannot see.
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const { result: preview, error } = useEngineQuery((engine) => engine.examplePreview(example, maxLength, numVirtualTokens), [example, maxLength, numVirtualTokens, modelKey], 120);
  if (error) return <p className="bad small">{error}</p>;
  if (!preview) return <p className="muted small">Tokenizing…</p>;
  return (
    <div className="token-preview" data-testid="token-preview">
      <div className="tokens" aria-label="tokens of the example">
        {chip && (
          <span className="tok virtual" title={chip.title}>
            {chip.text}
          </span>
        )}
        {preview.dropped > 0 && (
          <span className="tok dropped" title="dropped by truncation">
            … {preview.dropped} dropped …
          </span>
        )}
        {preview.tokens.map((t, i) => (
          <span key={i} className={`tok ${t.role}`} title={`id ${t.id}${t.role === 'target' || t.role === 'eos' ? ' · loss' : ''}`}>
            {showPiece(t.text)}
          </span>
        ))}
      </div>
      <div className="legend small">
        <span>
          <i className="tok input" /> context ({preview.inputTokens} tokens, no loss)
        </span>
        <span>
          <i className="tok target" /> target + end token ({preview.targetTokens} tokens, loss)
        </span>
        {preview.truncated && <span className="warn">truncated to fit {maxLength ?? 'the context'}</span>}
      </div>
    </div>
  );
}
