import { useState } from 'react';
import { applyTemplate } from '../../engine/data/examples.ts';
import type { GenerateResult } from '../../worker/protocol.ts';
import { whenEngine } from '../app/engine.ts';
import { app } from '../app/state.ts';
import { useStore } from '../app/store.ts';
import { errorMessage } from '../engine/client.ts';
import { formatDuration } from '../common/format.ts';
import { Callout, NumberField } from '../common/ui.tsx';

/** The same input through the frozen model with and without the soft prompt, side by side. */
export function TryIt() {
  const mapping = useStore(app, (s) => s.mapping);
  const dataset = useStore(app, (s) => s.dataset);
  const activeId = useStore(app, (s) => s.activeAdapterId);
  const adapters = useStore(app, (s) => s.adapters);
  const model = useStore(app, (s) => s.model);
  const active = adapters.find((a) => a.id === activeId);
  const [input, setInput] = useState('');
  const [useTemplate, setUseTemplate] = useState(true);
  const [maxNew, setMaxNew] = useState<number | null>(16);
  const [greedy, setGreedy] = useState(true);
  const [result, setResult] = useState<GenerateResult | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const sample = dataset?.testRows?.[0] ?? dataset?.rows[0];
  const fallback = sample && mapping ? sample[mapping.input] : '';
  const value = input.trim() ? input : fallback;
  const text = useTemplate && mapping ? applyTemplate(mapping.template, { ...(sample ?? {}), [mapping.input]: value }) : value;
  const go = async () => {
    setBusy(true);
    setError(null);
    try {
      setResult(await (await whenEngine()).generate({ input: text, adapterId: activeId, maxNewTokens: maxNew ?? 16, greedy, temperature: 0.8, seed: 0 }));
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="try-it">
      <h3>Try it</h3>
      <div className="field">
        <label htmlFor="try-input">Your input{mapping && useTemplate ? ` (fills {${mapping.input}})` : ''}</label>
        <textarea id="try-input" data-testid="try-input" rows={2} value={input} onChange={(e) => setInput(e.target.value)} placeholder={sample && mapping ? sample[mapping.input] : 'Type something'} />
      </div>
      <div className="row gap wrap end">
        <label className="check">
          <input type="checkbox" checked={useTemplate} onChange={(e) => setUseTemplate(e.target.checked)} /> use the data template
        </label>
        <label className="check">
          <input type="checkbox" checked={greedy} onChange={(e) => setGreedy(e.target.checked)} /> greedy
        </label>
        <NumberField label="Max new tokens" value={maxNew} integer min={1} max={256} onChange={setMaxNew} />
        <button className="primary" data-testid="try-generate" disabled={busy || !model || !value.trim()} onClick={() => void go()}>
          {busy ? 'Generating…' : 'Generate'}
        </button>
      </div>
      {useTemplate && value && <div className="muted small mono">model input: {JSON.stringify(text)}</div>}
      {error && <Callout kind="error">{error}</Callout>}
      {result && (
        <div className="side-by-side" data-testid="try-output">
          <div>
            <h4>Without the soft prompt</h4>
            <pre>{result.without || '(nothing: the end token came first)'}</pre>
          </div>
          <div>
            <h4>With {active ? `“${active.name}”` : 'the soft prompt'}</h4>
            <pre>{result.withPrompt ?? 'No active adapter: train one or pick one in Adapters.'}</pre>
          </div>
          <div className="muted small">{formatDuration(result.seconds)} for both</div>
        </div>
      )}
    </div>
  );
}
