import { useState } from 'react';
import { applyTemplate } from '../../engine/data/examples.ts';
import type { ServeResult } from '../../worker/protocol.ts';
import { whenEngine } from '../app/engine.ts';
import { app } from '../app/state.ts';
import { useStore } from '../app/store.ts';
import { errorMessage } from '../engine/client.ts';
import { formatDuration } from '../common/format.ts';
import { Callout, NumberField } from '../common/ui.tsx';
import { methodTitle } from '../prompt/methods.ts';

interface Row {
  adapterId: string | null;
  input: string;
}

const MAX_ROWS = 8;

/**
 * One base model, many tasks: rows of different adapters (any method) decoded as one batch, each
 * beside the base model's answer, and the time against running the rows one adapter at a time.
 */
export function ServePanel() {
  const adapters = useStore(app, (s) => s.adapters);
  const model = useStore(app, (s) => s.model);
  const dataset = useStore(app, (s) => s.dataset);
  const mapping = useStore(app, (s) => s.mapping);
  const [rows, setRows] = useState<Row[] | null>(null);
  const [maxNew, setMaxNew] = useState<number | null>(8);
  const [result, setResult] = useState<ServeResult | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // Until edited, the rows are a few of the task's test inputs (templated as the task trains), one per adapter in turn.
  const samples = (dataset?.testRows ?? dataset?.rows ?? []).slice(0, 4);
  const defaults: Row[] = samples.map((r, i) => ({
    adapterId: adapters.length ? adapters[i % adapters.length].id : null,
    input: mapping ? applyTemplate(mapping.template, r) : '',
  }));
  const shown = rows ?? defaults;
  const edit = (i: number, c: Partial<Row>) => setRows(shown.map((r, j) => (j === i ? { ...r, ...c } : r)));
  const name = (id: string | null) => (id ? (adapters.find((a) => a.id === id)?.name ?? id) : 'base model');
  const go = async () => {
    setBusy(true);
    setError(null);
    try {
      setResult(await (await whenEngine()).serve({ rows: shown, maxNewTokens: maxNew ?? 8 }));
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="serve" data-testid="serve-panel">
      <p className="muted">
        A single base model can serve many tasks: each row below carries its own adapter, and all of them (plus each input through the base model) run as one batch, sharing every forward pass. A
        server that loads one adapter at a time would run them one after another.
      </p>
      {adapters.length === 0 && <Callout kind="info">Train or import a few adapters first (the Adapters tab lists them); rows without an adapter run on the base model.</Callout>}
      <table className="results serve-rows">
        <thead>
          <tr>
            <th>Adapter</th>
            <th>Input (the model's text)</th>
            <th aria-label="Remove" />
          </tr>
        </thead>
        <tbody>
          {shown.map((r, i) => (
            <tr key={i}>
              <td>
                <select aria-label={`Adapter of row ${i + 1}`} data-testid={`serve-adapter-${i}`} value={r.adapterId ?? ''} onChange={(e) => edit(i, { adapterId: e.target.value || null })}>
                  <option value="">base model</option>
                  {adapters.map((a) => (
                    <option key={a.id} value={a.id}>
                      {a.name} ({methodTitle(a.method?.method ?? 'prompt')})
                    </option>
                  ))}
                </select>
              </td>
              <td>
                <input aria-label={`Input of row ${i + 1}`} data-testid={`serve-input-${i}`} value={r.input} onChange={(e) => edit(i, { input: e.target.value })} />
              </td>
              <td>
                <button className="link" aria-label={`Remove row ${i + 1}`} onClick={() => setRows(shown.filter((_, j) => j !== i))}>
                  ×
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="row gap wrap end">
        <button className="secondary" disabled={shown.length >= MAX_ROWS} onClick={() => setRows([...shown, { adapterId: adapters[0]?.id ?? null, input: '' }])}>
          Add a row
        </button>
        <NumberField label="Max new tokens" value={maxNew} integer min={1} max={64} onChange={setMaxNew} />
        <button className="primary" data-testid="serve-run" disabled={busy || !model || shown.length === 0} onClick={() => void go()}>
          {busy ? 'Running…' : 'Run as one batch'}
        </button>
      </div>
      {error && <Callout kind="error">{error}</Callout>}
      {result && (
        <div data-testid="serve-result">
          <table className="results">
            <thead>
              <tr>
                <th>Adapter</th>
                <th>Input</th>
                <th>Output</th>
                <th>Base model</th>
              </tr>
            </thead>
            <tbody>
              {result.rows.map((r, i) => (
                <tr key={i}>
                  <td>{name(r.adapterId)}</td>
                  <td className="mono small">{r.input}</td>
                  <td className="mono" data-testid={`serve-output-${i}`}>
                    {r.output || '(the end token came first)'}
                  </td>
                  <td className="mono muted">{r.base || '(the end token came first)'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p data-testid="serve-times">
            One batch: <b>{formatDuration(result.mixedMs / 1000)}</b> · one row at a time: <b>{formatDuration(result.oneByOneMs / 1000)}</b> (
            {(result.oneByOneMs / Math.max(result.mixedMs, 1)).toFixed(1)}x; the faster of {result.runs} runs each) · {result.tokens} tokens ·{' '}
            {result.identical ? 'every row got the same tokens both ways' : 'the two ways gave different tokens'}
          </p>
        </div>
      )}
    </div>
  );
}
