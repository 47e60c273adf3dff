import { useEffect, useMemo, useState } from 'react';
import { splitTrainVal } from '../../engine/data/batches.ts';
import { majorityBaseline } from './majority.ts';
import type { EvalCondition, EvalResult } from '../../worker/protocol.ts';
import { setAdapterAccuracy, taskProgressListeners, whenEngine } from '../app/actions.ts';
import { app, isTraining } from '../app/state.ts';
import { useStore } from '../app/store.ts';
import { errorMessage } from '../engine/client.ts';
import { formatDuration, formatLoss, formatPercent } from '../common/format.ts';
import { Callout, NumberField, ProgressBar } from '../common/ui.tsx';
import { TryIt } from './TryIt.tsx';

export function EvaluatePanel() {
  const dataset = useStore(app, (s) => s.dataset);
  const examples = useStore(app, (s) => s.examples);
  const testExamples = useStore(app, (s) => s.testExamples);
  const mapping = useStore(app, (s) => s.mapping);
  const train = useStore(app, (s) => s.train);
  const adapters = useStore(app, (s) => s.adapters);
  const activeId = useStore(app, (s) => s.activeAdapterId);
  const promptText = useStore(app, (s) => s.prompt.text);
  const model = useStore(app, (s) => s.model);
  const training = useStore(app, isTraining);
  const [limit, setLimit] = useState<number | null>(40);
  const [useNone, setUseNone] = useState(true);
  const [useText, setUseText] = useState(true);
  const active = adapters.find((a) => a.id === activeId) ?? null;
  const [text, setText] = useState<string>(promptText ?? '');
  useEffect(() => {
    const t = active?.config.initText ?? promptText;
    if (t) setText(t);
  }, [active?.id, promptText]);
  const [results, setResults] = useState<EvalResult[] | null>(null);
  const [busy, setBusy] = useState(false);
  const [progress, setProgress] = useState<{ task: string; done: number; total: number } | null>(null);
  const [error, setError] = useState<string | null>(null);

  const evalSet = useMemo(() => {
    if (testExamples?.length) return { name: `held-out test split`, examples: testExamples };
    if (examples) {
      const { val } = splitTrainVal(examples, train.valSplit, train.seed);
      if (val.length) return { name: 'validation split', examples: val };
    }
    return null;
  }, [examples, testExamples, train.valSplit, train.seed]);
  const chosen = evalSet ? evalSet.examples.slice(0, limit ?? undefined) : [];
  const labelTask = mapping?.kind === 'label';
  const baseline = labelTask && chosen.length ? majorityBaseline(chosen) : null;
  const labels = results ? [...new Set(results.flatMap((r) => Object.keys(r.labels.perLabel)))].sort() : [];

  const run = async () => {
    const conditions: EvalCondition[] = [];
    if (useNone) conditions.push({ kind: 'none' });
    if (useText && text.trim()) conditions.push({ kind: 'text', text: text.trim() });
    if (active) conditions.push({ kind: 'adapter', adapterId: active.id });
    if (!conditions.length) return;
    setBusy(true);
    setError(null);
    const onProgress = (task: string, done: number, total: number) => setProgress({ task, done, total });
    taskProgressListeners.add(onProgress);
    try {
      const r = await (await whenEngine()).evaluate({ examples: chosen, conditions, labelTask });
      setResults(r);
      const mine = r.find((x) => x.condition.kind === 'adapter');
      if (mine && active && labelTask) await setAdapterAccuracy(active.id, mine.labels.accuracy);
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      taskProgressListeners.delete(onProgress);
      setProgress(null);
      setBusy(false);
    }
  };

  return (
    <div className="evaluate-panel">
      <h3>Before vs after</h3>
      <p className="muted small">
        Greedy-decode each {labelTask ? 'label' : 'completion'} after its templated input and compare with the gold one{labelTask ? ' (exact match)' : ''}; the loss is the mean cross-entropy on the targets.
      </p>
      {!evalSet && <Callout kind="info">This dataset has no test split and no validation split to evaluate on: set a validation split in the Data panel.</Callout>}
      {evalSet && (
        <div className="row gap wrap end">
          <div className="field">
            <label>Evaluation set</label>
            <div className="static">
              {evalSet.name} of {dataset?.name} ({evalSet.examples.length})
            </div>
          </div>
          <NumberField label="First N examples" value={limit} integer min={1} allowEmpty placeholder="all" onChange={setLimit} />
        </div>
      )}
      <fieldset className="conditions">
        <legend>Compare</legend>
        <label>
          <input type="checkbox" checked={useNone} onChange={(e) => setUseNone(e.target.checked)} /> the model with no prompt
        </label>
        <label className="row gap">
          <input type="checkbox" checked={useText} onChange={(e) => setUseText(e.target.checked)} /> the init text as a plain text prompt:
          <input className="grow" value={text} onChange={(e) => setText(e.target.value)} aria-label="text prompt" />
        </label>
        <label>
          <input type="checkbox" checked={active !== null} disabled readOnly /> the trained soft prompt: {active ? <b>{active.name}</b> : <span className="muted">none active (train one, or pick one in Adapters)</span>}
        </label>
      </fieldset>
      <button className="primary" data-testid="evaluate" disabled={busy || !evalSet || !model || training} onClick={() => void run()} title={training ? 'Wait for training to finish' : undefined}>
        {busy ? 'Evaluating…' : `Evaluate on ${chosen.length} examples`}
      </button>
      {progress && (
        <div className="small">
          {progress.task}: {progress.done} / {progress.total}
          <ProgressBar value={progress.done / progress.total} />
        </div>
      )}
      {error && <Callout kind="error">{error}</Callout>}
      {results && (
        <div className="table-wrap">
          <table className="results" data-testid="eval-results">
            <thead>
              <tr>
                <th>Condition</th>
                <th>Loss</th>
                {labelTask && <th>Accuracy</th>}
                {labelTask && labels.map((l) => <th key={l}>“{l}”</th>)}
                <th>Time</th>
              </tr>
            </thead>
            <tbody>
              {results.map((r) => (
                <tr key={r.label} className={r.condition.kind === 'adapter' ? 'highlight' : ''}>
                  <td>{r.label}</td>
                  <td className="num">{formatLoss(r.loss)}</td>
                  {labelTask && <td className="num">{formatPercent(r.labels.accuracy)}</td>}
                  {labelTask &&
                    labels.map((l) => (
                      <td key={l} className="num" title={r.labels.perLabel[l] ? `${r.labels.perLabel[l].correct} of ${r.labels.perLabel[l].total}` : ''}>
                        {formatPercent(r.labels.perLabel[l]?.accuracy)}
                      </td>
                    ))}
                  <td className="num muted">{formatDuration(r.seconds)}</td>
                </tr>
              ))}
              {baseline && (
                <tr className="muted">
                  <td>always answering “{baseline.label}” (majority)</td>
                  <td />
                  <td className="num">{formatPercent(baseline.accuracy)}</td>
                  {labels.map((l) => (
                    <td key={l} />
                  ))}
                  <td />
                </tr>
              )}
            </tbody>
          </table>
          {labelTask && (
            <details>
              <summary>Predictions</summary>
              <table className="results small">
                <thead>
                  <tr>
                    <th>Input</th>
                    <th>Gold</th>
                    {results.map((r) => (
                      <th key={r.label}>{r.label}</th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {chosen.slice(0, 20).map((ex, i) => (
                    <tr key={i}>
                      <td className="clip">{ex.input}</td>
                      <td>{ex.target}</td>
                      {results.map((r) => {
                        const p = r.labels.predictions[i]?.predicted ?? '';
                        const ok = p.trim().toLowerCase() === ex.target.trim().toLowerCase();
                        return (
                          <td key={r.label} className={ok ? 'good' : 'bad'}>
                            {p || <span className="muted">(nothing)</span>}
                          </td>
                        );
                      })}
                    </tr>
                  ))}
                </tbody>
              </table>
            </details>
          )}
        </div>
      )}
      <TryIt />
    </div>
  );
}
