import { useEffect, useState } from 'react';
import type { InspectResult } from '../../worker/protocol.ts';
import { whenEngine } from '../app/engine.ts';
import { app, isTraining } from '../app/state.ts';
import { useStore } from '../app/store.ts';
import { errorMessage } from '../engine/client.ts';
import { showPiece } from '../common/format.ts';
import { Callout } from '../common/ui.tsx';

/** Each virtual token: the vocabulary tokens it points towards, its norm, and how far it moved. */
export function InspectPanel() {
  const activeId = useStore(app, (s) => s.activeAdapterId);
  const adapters = useStore(app, (s) => s.adapters);
  const model = useStore(app, (s) => s.model);
  const training = useStore(app, isTraining);
  const [result, setResult] = useState<InspectResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const active = adapters.find((a) => a.id === activeId);
  useEffect(() => {
    let live = true;
    setResult(null);
    setError(null);
    if (!activeId || !model) return;
    void (async () => {
      try {
        const r = await (await whenEngine()).inspect(activeId, 5);
        if (live) setResult(r);
      } catch (e) {
        if (live) setError(errorMessage(e));
      }
    })();
    return () => {
      live = false;
    };
  }, [activeId, model]);
  if (!active) return <p className="muted">Train a soft prompt or pick one in Adapters to look inside it.</p>;
  if (active.method && active.method.method !== 'p_tuning' && active.method.method !== 'prompt') {
    // The worker says why (no virtual tokens to set beside the vocabulary); say it without the soft-prompt text.
    return (
      <div className="inspect-panel" data-testid="inspect">
        <p className="small">
          <b>{active.name}</b> is a {active.method.method === 'lora' ? 'LoRA' : 'prefix-tuning'} adapter. Inspect shows virtual tokens beside the vocabulary, which only prompt tuning and P-tuning
          have.
        </p>
        {error && <Callout kind="info">{error}</Callout>}
      </div>
    );
  }
  const maxNorm = result ? Math.max(result.embedding.max, ...result.tokens.map((t) => t.norm)) : 1;
  return (
    <div className="inspect-panel" data-testid="inspect">
      <p className="small">
        <b>{active.name}</b>: {active.config.numVirtualTokens} virtual tokens{active.method?.method === 'p_tuning' ? ' (as its encoder produces them)' : ''}. A soft prompt is not made of words: each
        row is a free vector. The closest vocabulary embeddings (by cosine) hint at what it encodes; its norm shows whether it stayed on the vocabulary's scale; drift shows how far training moved it
        from its init.
      </p>
      {training && <p className="muted small">Training is running: this shows the active adapter, not the run in progress.</p>}
      {error && <Callout kind="error">{error}</Callout>}
      {result && (
        <>
          <p className="muted small">
            Vocabulary embedding norms: mean {result.embedding.mean.toFixed(3)}, from {result.embedding.min.toFixed(3)} to {result.embedding.max.toFixed(3)}.
          </p>
          <div className="table-wrap">
            <table className="results inspect">
              <thead>
                <tr>
                  <th>#</th>
                  <th>Started as</th>
                  <th>Nearest vocabulary tokens (cosine)</th>
                  <th>Norm</th>
                  <th>Drift from init</th>
                  <th>cos(init)</th>
                </tr>
              </thead>
              <tbody>
                {result.tokens.map((t) => (
                  <tr key={t.index}>
                    <td className="num">{t.index + 1}</td>
                    <td>{t.initToken ? <span className="tok input">{showPiece(t.initToken.piece)}</span> : <span className="muted">{t.initNorm !== null ? 'noise' : '–'}</span>}</td>
                    <td>
                      {t.nearest.map((n) => (
                        <span key={n.id} className="tok target" title={`id ${n.id}`} style={{ opacity: 0.45 + 0.55 * Math.max(0, n.cosine) }}>
                          {showPiece(n.piece)} <small>{n.cosine.toFixed(2)}</small>
                        </span>
                      ))}
                    </td>
                    <td className="num">
                      <div className="bar" title={`vocabulary mean ${result.embedding.mean.toFixed(3)}`}>
                        <span style={{ width: `${(100 * t.norm) / maxNorm}%` }} />
                        <i style={{ left: `${(100 * result.embedding.mean) / maxNorm}%` }} />
                      </div>
                      {t.norm.toFixed(3)}
                    </td>
                    <td className="num">{t.drift === null ? '–' : `${t.drift.toFixed(3)}${t.initNorm ? ` (${((100 * t.drift) / t.initNorm).toFixed(0)}%)` : ''}`}</td>
                    <td className="num">{t.cosineToInit === null ? '–' : t.cosineToInit.toFixed(3)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </div>
  );
}
