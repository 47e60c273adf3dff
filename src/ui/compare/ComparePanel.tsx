import { useMemo } from 'react';
import type uPlot from 'uplot';
import type { MethodName } from '../../worker/protocol.ts';
import { app, isTraining, type AppState, type CompareRow } from '../app/state.ts';
import { useStore } from '../app/store.ts';
import { formatBytes, formatCount, formatDuration, formatLoss, formatPercent } from '../common/format.ts';
import { Callout } from '../common/ui.tsx';
import { lrFor, METHOD_LIST, methodTitle } from '../prompt/methods.ts';
import { Chart, type ChartSeries } from '../train/Chart.tsx';
import { align, smooth } from '../train/smoothing.ts';
import { runComparison, stopComparison, toggleCompareMethod } from './actions.ts';

export const METHOD_COLORS: Record<MethodName, string> = { prompt: '#6d4aff', prefix: '#0ea5e9', p_tuning: '#f59e0b', lora: '#10b981' };

/** A method's settings in a few words (edited where the method is chosen). */
function settingsOf(s: Pick<AppState, 'methods' | 'prompt' | 'methodLr'>, m: MethodName): string {
  const lr = `lr ${lrFor(s, m)}`;
  if (m === 'prompt') return `${s.prompt.kind} init · V ${s.prompt.numVirtualTokens} · ${lr}`;
  if (m === 'prefix') {
    const c = s.methods.prefix;
    return `V ${c.numVirtualTokens}${c.prefixProjection ? ` · projection${c.encoderHiddenSize ? ` ${c.encoderHiddenSize}` : ''}` : ''} · ${lr}`;
  }
  if (m === 'p_tuning') {
    const c = s.methods.p_tuning;
    return `V ${c.numVirtualTokens} · ${c.encoderType}${c.encoderType === 'LSTM' ? ` ×${c.encoderNumLayers}` : ''}${c.encoderHiddenSize ? ` ${c.encoderHiddenSize}` : ''} · ${lr}`;
  }
  const c = s.methods.lora;
  const t = c.targetModules === null ? 'default modules' : typeof c.targetModules === 'string' ? c.targetModules : c.targetModules.join(', ');
  return `r ${c.r} · alpha ${c.alpha}${c.dropout ? ` · dropout ${c.dropout}` : ''} · ${t} · ${lr}`;
}

const STATUS: Record<CompareRow['status'], string> = { waiting: 'waiting', training: 'training…', evaluating: 'evaluating…', done: 'done', failed: 'failed', skipped: 'skipped' };

export function ComparePanel() {
  // Only what the panel shows: it stays mounted while the Train tab shows a run, and must not redraw for every step.
  const c = useStore(app, (x) => x.comparison);
  const compareMethods = useStore(app, (x) => x.compareMethods);
  const methods = useStore(app, (x) => x.methods);
  const prompt = useStore(app, (x) => x.prompt);
  const methodLr = useStore(app, (x) => x.methodLr);
  const stats = useStore(app, (x) => x.stats);
  const maxSteps = useStore(app, (x) => x.train.maxSteps);
  const datasetName = useStore(app, (x) => x.dataset?.name);
  const ready = useStore(app, (x) => x.model !== null && x.modelStatus === 'ready' && x.examples !== null && x.stats !== null && x.engineStatus === 'ready' && !x.deviceLost);
  const training = useStore(app, isTraining);
  const running = c.status === 'running';
  // The live run's curve, only while a comparison trains it.
  const liveVersion = useStore(app, (x) => (x.comparison.status === 'running' ? (x.run?.version ?? 0) : -1));
  const ticked = METHOD_LIST.filter((m) => compareMethods.includes(m.name));
  const why = !ready ? 'Load a model and choose a dataset first.' : training && !running ? 'A run is training: stop it first.' : ticked.length === 0 ? 'Tick at least one method.' : null;

  const labels = useMemo(() => [...new Set(c.entries.flatMap((r) => Object.keys(r.perLabel ?? {})).concat(Object.keys(c.none?.perLabel ?? {})))].sort(), [c.entries, c.none]);

  const chart = useMemo(() => {
    const series: ChartSeries[] = [];
    const data: { x: number[]; y: number[] }[] = [];
    for (const r of c.entries) {
      // The run in progress draws from the live history; finished ones from their stored curves.
      const live = app.get().run;
      const h = r.history ?? (live && live.id === r.runId ? live.history : null);
      if (!h || h.step.length === 0) continue;
      const color = METHOD_COLORS[r.method];
      series.push({ label: `${methodTitle(r.method)} loss`, color, width: 2 }, { label: `${methodTitle(r.method)} val`, color, pointsOnly: true });
      data.push({ x: h.step, y: smooth(h.loss, 0.6) }, { x: h.evalStep, y: h.valLoss });
    }
    return { series, data: data.length ? (align(data) as uPlot.AlignedData) : null };
    // The live history is mutated in place: liveVersion says it changed.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [c.entries, liveVersion]);

  const cols = 8 + labels.length;
  return (
    <div className="compare-panel" data-testid="compare-panel">
      <h3>Compare tuning methods</h3>
      <p className="muted small">
        Trains each ticked method in turn on the dataset and settings on the left (the same rows, seed and validation split), each as a normal run with its own adapter, then scores every adapter on
        its run&apos;s validation rows. A method&apos;s settings are those its form on the left holds: pick it there to change them.
      </p>
      <fieldset className="compare-methods" disabled={running}>
        <legend>Methods</legend>
        {METHOD_LIST.map((m) => (
          <label key={m.name} className="row gap">
            <input type="checkbox" checked={compareMethods.includes(m.name)} onChange={() => toggleCompareMethod(m.name)} data-testid={`compare-${m.name}`} aria-label={`Compare ${m.title}`} />
            <span className="swatch" style={{ background: METHOD_COLORS[m.name] }} aria-hidden="true" />
            <b>{m.title}</b> <span className="muted small mono">{settingsOf({ methods, prompt, methodLr }, m.name)}</span>
          </label>
        ))}
      </fieldset>
      <div className="row gap wrap">
        {!running && (
          <button className="primary big" data-testid="compare-start" disabled={why !== null} title={why ?? undefined} onClick={() => void runComparison()}>
            <span aria-hidden="true">▶</span> Train and compare {ticked.length} method{ticked.length === 1 ? '' : 's'}
          </button>
        )}
        {running && (
          <button className="secondary big danger" data-testid="compare-stop" onClick={stopComparison}>
            <span aria-hidden="true">■</span> Stop the comparison
          </button>
        )}
        {why && !running && <span className="muted small">{why}</span>}
        {!why && !running && stats && (
          <span className="muted small">
            {Math.min(stats.totalSteps, maxSteps ?? Infinity)} steps each · {stats.trainCount} training and {stats.valCount} validation rows of {datasetName}
          </span>
        )}
      </div>
      {c.error && <Callout kind="warning">{c.error}</Callout>}
      {c.entries.length > 0 && (
        <ol className="compare-status small" data-testid="compare-status" data-status={c.status}>
          {c.entries.map((r) => (
            <li key={r.method} data-status={r.status}>
              <b>{methodTitle(r.method)}</b>: {STATUS[r.status]}
              {r.error && <span className="bad"> — {r.error}</span>}
            </li>
          ))}
        </ol>
      )}
      {chart.data && <Chart title="Training loss by method (smoothed; points: validation loss)" series={chart.series} data={chart.data} height={260} yLabel="cross-entropy" testId="compare-chart" />}
      {c.entries.some((r) => r.status === 'done') && (
        <div className="table-wrap">
          <table className="results compare-table" data-testid="compare-table">
            <caption className="small muted">{c.rows ? `Held out: ${c.rows}.` : ''} Step time is the mean over the run; peak memory the largest tf.memory() after a step.</caption>
            <thead>
              <tr>
                <th scope="col">Method</th>
                <th scope="col" title="trainable values (PEFT's print_trainable_parameters)">
                  Params
                </th>
                <th scope="col" title="bytes of adapter_model.safetensors as exported">
                  File
                </th>
                <th scope="col" title="mean seconds per training step">
                  Step
                </th>
                <th scope="col" title="largest tf.memory().numBytes after a step">
                  Peak mem.
                </th>
                <th scope="col" title="the run's last validation loss">
                  Val loss
                </th>
                <th scope="col" title="loss of the saved adapter on the run's validation rows">
                  Held-out loss
                </th>
                <th scope="col" title="exact-match accuracy of the greedy label on the run's validation rows">
                  Accuracy
                </th>
                {labels.map((l) => (
                  <th scope="col" key={l} className="label-col">
                    “{l}”
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {c.entries.map((r) => (
                <tr key={r.method} data-testid={`compare-row-${r.method}`} data-status={r.status}>
                  <th scope="row">
                    <span className="swatch" style={{ background: METHOD_COLORS[r.method] }} aria-hidden="true" /> {methodTitle(r.method)}
                  </th>
                  {r.status !== 'done' ? (
                    <td colSpan={cols - 1} className="muted">
                      {STATUS[r.status]}
                      {r.error ? `: ${r.error}` : ''}
                    </td>
                  ) : (
                    <>
                      <td className="num" data-col="params" data-value={r.cost?.trainableParams ?? ''}>
                        {r.cost ? formatCount(r.cost.trainableParams) : '–'}
                      </td>
                      <td className="num" data-col="bytes" data-value={r.cost?.adapterBytes ?? ''}>
                        {r.cost ? formatBytes(r.cost.adapterBytes) : '–'}
                      </td>
                      <td className="num" data-col="step" data-value={r.cost?.stepSeconds ?? ''}>
                        {r.cost?.stepSeconds != null ? formatDuration(r.cost.stepSeconds) : '–'}
                      </td>
                      <td className="num" data-col="memory" data-value={r.cost?.peakBytes ?? ''}>
                        {r.cost ? formatBytes(r.cost.peakBytes) : '–'}
                      </td>
                      <td className="num" data-col="val-loss" data-value={r.cost?.finalValLoss ?? ''}>
                        {formatLoss(r.cost?.finalValLoss)}
                      </td>
                      <td className="num" data-col="eval-loss" data-value={r.evalLoss ?? ''}>
                        {formatLoss(r.evalLoss)}
                      </td>
                      <td className="num" data-col="accuracy" data-value={r.accuracy ?? ''}>
                        <b>{formatPercent(r.accuracy)}</b>
                      </td>
                      {labels.map((l) => (
                        <td key={l} className="num" data-col={`label:${l}`} title={r.perLabel?.[l] ? `${r.perLabel[l].correct} of ${r.perLabel[l].total}` : ''}>
                          {formatPercent(r.perLabel?.[l]?.accuracy)}
                        </td>
                      ))}
                    </>
                  )}
                </tr>
              ))}
              {c.none && (
                <tr className="muted" data-testid="compare-row-none">
                  <th scope="row">no adapter (frozen model)</th>
                  <td className="num">0</td>
                  <td />
                  <td />
                  <td />
                  <td />
                  <td className="num" data-col="eval-loss" data-value={c.none.loss}>
                    {formatLoss(c.none.loss)}
                  </td>
                  <td className="num" data-col="accuracy" data-value={c.none.accuracy ?? ''}>
                    {formatPercent(c.none.accuracy)}
                  </td>
                  {labels.map((l) => (
                    <td key={l} className="num" data-col={`label:${l}`}>
                      {formatPercent(c.none?.perLabel?.[l]?.accuracy)}
                    </td>
                  ))}
                </tr>
              )}
              {c.majority && (
                <tr className="muted" data-testid="compare-row-majority">
                  <th scope="row">always “{c.majority.label}” (majority label)</th>
                  <td />
                  <td />
                  <td />
                  <td />
                  <td />
                  <td />
                  <td className="num" data-col="accuracy" data-value={c.majority.accuracy}>
                    {formatPercent(c.majority.accuracy)}
                  </td>
                  {labels.map((l) => (
                    <td key={l} className="num" data-col={`label:${l}`}>
                      {c.majority?.perLabel[l] !== undefined ? formatPercent(c.majority.perLabel[l]) : ''}
                    </td>
                  ))}
                </tr>
              )}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
