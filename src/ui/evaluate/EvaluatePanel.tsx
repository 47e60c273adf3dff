import { useEffect, useMemo, useState } from 'react';
import { majorityBaseline } from '../../engine/data/labels.ts';
import type { EvalCondition, EvalSet, Evaluation } from '../../worker/protocol.ts';
import { onEngineEvent, whenEngine } from '../app/engine.ts';
import { refreshRunsAndAdapters } from '../adapters/actions.ts';
import { app, isTraining } from '../app/state.ts';
import { useStore } from '../app/store.ts';
import { errorMessage } from '../engine/client.ts';
import { formatDuration, formatLoss, formatPercent } from '../common/format.ts';
import { Callout, NumberField, ProgressBar } from '../common/ui.tsx';
import { TryIt } from './TryIt.tsx';

export function EvaluatePanel() {
  const dataset = useStore(app, (s) => s.dataset);
  const testExamples = useStore(app, (s) => s.testExamples);
  const mapping = useStore(app, (s) => s.mapping);
  const runs = useStore(app, (s) => s.runs);
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
  const activeInitText = active?.config.initText;
  useEffect(() => {
    const t = activeInitText ?? promptText;
    if (t) setText(t);
  }, [activeInitText, promptText]);
  const [evaluation, setEvaluation] = useState<Evaluation | null>(null);
  const results = evaluation?.results ?? null;
  const [busy, setBusy] = useState(false);
  const [progress, setProgress] = useState<{ task: string; done: number; total: number } | null>(null);
  const [error, setError] = useState<string | null>(null);

  // The rows to score: the held-out rows the active adapter's own run stored (never a split made
  // again from today's settings), else the dataset's test split.
  const ownRun = active?.runId ? (runs.find((r) => r.id === active.runId) ?? null) : null;
  const evalSet = useMemo((): { set: EvalSet; name: string; count: number } | null => {
    if (ownRun) {
      const part = ownRun.split.test.length ? 'test' : 'validation';
      const count = ownRun.split[part].length;
      if (count) return { set: { kind: 'run', runId: ownRun.id, limit }, name: `the ${part} rows run "${ownRun.spec.label}" held out, of ${ownRun.spec.data.name}`, count };
    }
    if (testExamples?.length)
      return { set: { kind: 'examples', name: `test rows of ${dataset?.name}`, examples: testExamples, limit }, name: `the test split of ${dataset?.name}`, count: testExamples.length };
    return null;
  }, [ownRun, testExamples, dataset?.name, limit]);
  const chosenCount = evalSet ? Math.min(evalSet.count, limit ?? Infinity) : 0;
  const labelTask = mapping?.kind === 'label';
  const scored = evaluation?.examples ?? [];
  const baseline = labelTask && scored.length ? majorityBaseline(scored) : null;
  const labels = results ? [...new Set(results.flatMap((r) => Object.keys(r.labels?.perLabel ?? {})))].sort() : [];

  const run = async () => {
    if (!evalSet) return;
    const conditions: EvalCondition[] = [];
    if (useNone) conditions.push({ kind: 'none' });
    if (useText && text.trim()) conditions.push({ kind: 'text', text: text.trim() });
    if (active) conditions.push({ kind: 'adapter', adapterId: active.id });
    if (!conditions.length) return;
    setBusy(true);
    setError(null);
    const stop = onEngineEvent((e) => e.type === 'task-progress' && setProgress({ task: e.task, done: e.done, total: e.total }));
    try {
      // The worker keeps the adapter's accuracy together with the rows it was measured on.
      setEvaluation(await (await whenEngine()).evaluate({ set: evalSet.set, conditions, labelTask }));
      await refreshRunsAndAdapters();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      stop();
      setProgress(null);
      setBusy(false);
    }
  };

  return (
    <div className="evaluate-panel">
      <h3>Before vs after</h3>
      <p className="muted small">
        Greedy-decode each {labelTask ? 'label' : 'completion'} after its templated input and compare with the gold one{labelTask ? ' (exact match)' : ''}; the loss is the mean cross-entropy on the
        targets.
      </p>
      {!evalSet && (
        <Callout kind="info">
          Nothing held out to evaluate on: this dataset has no test split, and the active adapter has no run whose held-out rows are stored. Train one (its validation rows are kept), or load a dataset
          with a test split.
        </Callout>
      )}
      {evalSet && (
        <div className="row gap wrap end">
          <div className="field">
            <label>Evaluation set</label>
            <div className="static">
              {evalSet.name} ({evalSet.count})
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
          <input type="checkbox" checked={active !== null} disabled readOnly /> the trained adapter:{' '}
          {active ? <b>{active.name}</b> : <span className="muted">none active (train one, or pick one in Adapters)</span>}
        </label>
      </fieldset>
      <button className="primary" data-testid="evaluate" disabled={busy || !evalSet || !model || training} onClick={() => void run()} title={training ? 'Wait for training to finish' : undefined}>
        {busy ? 'Evaluating…' : `Evaluate on ${chosenCount} examples`}
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
                  {labelTask && <td className="num">{formatPercent(r.labels?.accuracy)}</td>}
                  {labelTask &&
                    labels.map((l) => (
                      <td key={l} className="num" title={r.labels?.perLabel[l] ? `${r.labels.perLabel[l].correct} of ${r.labels.perLabel[l].total}` : ''}>
                        {formatPercent(r.labels?.perLabel[l]?.accuracy)}
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
                  {scored.slice(0, 20).map((ex, i) => (
                    <tr key={i}>
                      <td className="clip">{ex.input}</td>
                      <td>{ex.target}</td>
                      {results.map((r) => {
                        const p = r.labels?.predictions[i]?.predicted ?? '';
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
