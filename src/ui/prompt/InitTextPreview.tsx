import { useEffect, useState } from 'react';
import type { InitTextPreview as Preview } from '../../worker/protocol.ts';
import { whenEngine } from '../app/actions.ts';
import { errorMessage } from '../engine/client.ts';
import { showPiece } from '../common/format.ts';

/** How the init text becomes V virtual tokens: cut when longer than V, repeated when shorter. */
export function InitTextPreview({ text, numVirtualTokens, modelKey }: { text: string; numVirtualTokens: number; modelKey: string }) {
  const [preview, setPreview] = useState<Preview | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    const t = setTimeout(async () => {
      if (!text.trim()) {
        setPreview(null);
        setError('TEXT init needs a phrase');
        return;
      }
      try {
        const p = await (await whenEngine()).initTextPreview(text, numVirtualTokens);
        if (live) {
          setPreview(p);
          setError(null);
        }
      } catch (e) {
        if (live) setError(errorMessage(e));
      }
    }, 120);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [text, numVirtualTokens, modelKey]);
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
