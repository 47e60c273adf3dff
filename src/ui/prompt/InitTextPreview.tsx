import { useEngineQuery } from '../engine/useEngineQuery.ts';
import { showPiece } from '../common/format.ts';

/** How the init text becomes V virtual tokens: cut when longer than V, repeated when shorter. */
export function InitTextPreview({ text, numVirtualTokens, modelKey }: { text: string; numVirtualTokens: number; modelKey: string }) {
  const { result: preview, error } = useEngineQuery(
    async (engine) => {
      if (!text.trim()) throw new Error('TEXT init needs a phrase');
      return engine.initTextPreview(text, numVirtualTokens);
    },
    // modelKey: the answer depends on the model loaded in the worker, which the closure cannot see.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [text, numVirtualTokens, modelKey],
    120,
  );
  if (error) return <p className="bad small">{error}</p>;
  if (!preview) return null;
  const n = preview.textTokens.length;
  return (
    <div className="init-preview" data-testid="init-preview">
      <div className="tokens">
        {preview.promptTokens.map((t, i) => (
          <span key={i} className={`tok ${i >= n ? 'repeat' : 'target'}`} title={`virtual token ${i + 1} starts as id ${t.id}${i >= n ? ' (repeated)' : ''}`}>
            {showPiece(t.text)}
          </span>
        ))}
        {preview.mode === 'cut' &&
          preview.textTokens.slice(numVirtualTokens).map((t, i) => (
            <span key={`cut${i}`} className="tok dropped" title="cut: beyond V">
              {showPiece(t.text)}
            </span>
          ))}
      </div>
      <div className="hint">
        The text is {n} token{n === 1 ? '' : 's'}
        {preview.mode === 'exact' && `, exactly V.`}
        {preview.mode === 'cut' && `: only the first ${numVirtualTokens} are used (struck out: cut).`}
        {preview.mode === 'repeated' && `: repeated to fill ${numVirtualTokens} virtual tokens (faded: repeats).`}
      </div>
    </div>
  );
}
