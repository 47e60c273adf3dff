import { useState } from 'react';
import { app } from '../app/state.ts';
import { useStore } from '../app/store.ts';
import { formatCount, formatLoss, formatShort } from '../common/format.ts';
import { teachWarnings } from './warnings.ts';

/** Soft prompt + input embeddings → frozen model → loss → gradients reach only the soft prompt, with live numbers. */
export function TeachPanel() {
  const model = useStore(app, (s) => s.model);
  const prompt = useStore(app, (s) => s.prompt);
  const train = useStore(app, (s) => s.train);
  const stats = useStore(app, (s) => s.stats);
  const run = useStore(app, (s) => s.run);
  useStore(app, (s) => s.run?.version);
  const [open, setOpen] = useState(true);
  const V = run?.numVirtualTokens ?? prompt.numVirtualTokens;
  const H = model?.hiddenSize ?? 0;
  const T = stats ? Math.round(stats.train.mean) : null;
  const h = run?.history;
  const first = h?.loss[0];
  const last = h?.loss.at(-1);
  const warnings = teachWarnings(model, prompt, train, stats?.train.mean ?? null);
  return (
    <section className="card teach" aria-labelledby="teach-title" data-testid="teach">
      <header className="card-head">
        <h2 id="teach-title">How prompt tuning works</h2>
        <button className="link small" onClick={() => setOpen((o) => !o)} aria-expanded={open}>
          {open ? 'hide' : 'show'}
        </button>
      </header>
      {open && (
        <>
          <div className="flow" aria-label="data flow of one training step">
            <div className="node trainable">
              <b>Soft prompt</b>
              <span>
                {V} × {H || 'H'} numbers
              </span>
              <small>{formatCount(V * H)} trainable</small>
            </div>
            <div className="plus">+</div>
            <div className="node">
              <b>Input embeddings</b>
              <span>{T !== null ? `~${T} tokens` : 'your examples'}</span>
              <small>looked up, frozen</small>
            </div>
            <div className="arrow">→</div>
            <div className="node frozen">
              <b>Frozen model</b>
              <span>{model ? `${formatShort(model.parameterCount)} params` : '…'}</span>
              <small>{model ? `${model.numLayers} layers, not updated` : 'not updated'}</small>
            </div>
            <div className="arrow">→</div>
            <div className="node loss">
              <b>Loss</b>
              <span>{last !== undefined ? formatLoss(last) : 'on the target tokens'}</span>
              <small>{first !== undefined && last !== undefined ? `started at ${formatLoss(first)}` : 'cross-entropy'}</small>
            </div>
          </div>
          <div className="backprop small">
            ↺ Gradients flow back through the frozen model but update <b>only the soft prompt</b> (AdamW, lr {run ? (h?.lr.at(-1)?.toExponential(1) ?? train.lr) : train.lr}
            {run ? ' now' : ''}). The prompt is {V} vectors the model reads like words, but they need not be any word.
          </div>
          {warnings.length > 0 && (
            <ul className="teach-warnings small" data-testid="teach-warnings">
              {warnings.map((w) => (
                <li key={w.id} data-warning={w.id}>
                  {w.text}
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </section>
  );
}
