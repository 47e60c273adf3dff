import { useMemo, useState } from 'react';
import type uPlot from 'uplot';
import { continueTraining, pauseTraining, startTraining, stopTraining } from './actions.ts';
import { downloadAdapterZip, toggleOverlay, deleteRun } from '../adapters/actions.ts';
import { app, isTraining, type LiveRun } from '../app/state.ts';
import { useStore } from '../app/store.ts';
import { formatDuration, formatLoss, timeAgo } from '../common/format.ts';
import { Callout, ProgressBar, Stat } from '../common/ui.tsx';
import { Chart, type ChartSeries } from './Chart.tsx';
import { align, smooth } from './smoothing.ts';
import { methodTitle } from '../prompt/methods.ts';

const OVERLAY_COLORS = ['#0ea5e9', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6', '#64748b'];
const LOSS = '#6d4aff';

function stepSeconds(run: LiveRun): number | null {
  const t = run.history.time;
  const n = Math.min(10, t.length - 1);
  return n >= 1 ? (t[t.length - 1] - t[t.length - 1 - n]) / n : t.length === 1 ? t[0] : null;
}

export function TrainControls() {
  const s = useStore(app, (x) => x);
  const run = s.run;
  const training = isTraining(s);
  const ready = s.model !== null && s.modelStatus === 'ready' && s.examples !== null && s.stats !== null && s.engineStatus === 'ready' && !s.deviceLost;
  const why = !s.model
    ? 'Load a model first.'
    : s.modelStatus === 'loading'
      ? 'The model is loading.'
      : !s.examples
        ? 'Choose a dataset (and a valid column mapping) first.'
        : s.statsError
          ? s.statsError
          : s.prompt.kind === 'TEXT' && !s.prompt.text?.trim()
            ? 'TEXT init needs an init text.'
            : !s.stats
              ? 'Tokenizing the dataset…'
              : s.deviceLost
                ? 'The GPU device was lost: restart the engine first.'
                : s.comparison.status === 'running'
                  ? 'A comparison is running (Compare methods).'
                  : null;
  return (
    <div className="train-controls row gap wrap">
      {!training && (
        <button
          className="primary big"
          data-testid="train-start"
          disabled={!ready || why !== null}
          onClick={() => void startTraining()}
          title={why ?? `Train with ${methodTitle(s.method)}; the model's weights stay frozen`}
        >
          <span aria-hidden="true">▶</span> Train
        </button>
      )}
      {training && run?.status !== 'paused' && (
        <button className="secondary big" data-testid="train-pause" disabled={run?.status === 'starting'} onClick={pauseTraining}>
          <span aria-hidden="true">❚❚</span> Pause
        </button>
      )}
      {training && run?.status === 'paused' && (
        <button className="primary big" data-testid="train-resume" onClick={continueTraining}>
          <span aria-hidden="true">▶</span> Resume
        </button>
      )}
      {training && (
        <button className="secondary big danger" data-testid="train-stop" disabled={run?.status === 'starting'} onClick={stopTraining} title="Stop now and keep the soft prompt trained so far">
          <span aria-hidden="true">■</span> Stop
        </button>
      )}
      {!training && run?.adapterId && (
        <>
          <button
            className="secondary big"
            data-testid="train-download"
            onClick={() => void downloadAdapterZip(run.adapterId as string)}
            title="adapter_config.json + adapter_model.safetensors + README + train_peft.py, as PEFT loads them"
          >
            Download adapter (.zip)
          </button>
          <button className="link" onClick={() => app.set({ tab: 'evaluate' })}>
            Evaluate it →
          </button>
        </>
      )}
      {!training && why && <span className="muted small">{why}</span>}
      {!training && !why && s.stats && !run?.adapterId && (
        <span className="muted small">
          {Math.min(s.stats.totalSteps, s.train.maxSteps ?? Infinity)} steps · {methodTitle(s.method)} ·{' '}
          {s.method === 'prompt' ? `${s.prompt.kind} init · V ${s.prompt.numVirtualTokens}` : s.method === 'lora' ? `r ${s.methods.lora.r}` : `V ${s.methods[s.method].numVirtualTokens}`} · lr{' '}
          {s.train.lr}
        </span>
      )}
    </div>
  );
}

function RunProgress({ run }: { run: LiveRun }) {
  const h = run.history;
  const step = h.step.at(-1) ?? 0;
  const per = stepSeconds(run);
  const remaining = run.totalSteps - step;
  const eta = per !== null ? remaining * per : null;
  const loss = h.loss.at(-1);
  const smoothed = smooth(h.loss, 0.8).at(-1);
  const val = h.valLoss.at(-1);
  const stateText =
    run.status === 'starting'
      ? 'Preparing data and compiling kernels…'
      : run.status === 'running'
        ? run.activity
          ? run.activity
          : step === 0
            ? 'First step (the GPU compiles its kernels)…'
            : `Training · epoch ${run.epoch + 1} of ${run.epochs}`
        : run.status === 'paused'
          ? 'Paused (checkpoint saved)'
          : run.status === 'completed'
            ? `Done: ${run.message}`
            : run.status === 'stopped'
              ? `Stopped: ${run.message}`
              : run.status === 'interrupted'
                ? `Interrupted: ${run.message}`
                : `Failed: ${run.message}`;
  return (
    <div className="run-progress" data-testid="run-progress" data-status={run.status} data-step={step}>
      <div className="row between small">
        <span data-testid="run-state">{stateText}</span>
        <span className="mono" data-testid="run-step">
          step {step} / {run.totalSteps || '…'}
        </span>
      </div>
      <ProgressBar value={run.totalSteps ? step / run.totalSteps : 0} indeterminate={run.status === 'starting'} label="training progress" testId="train-progress" />
      <div className="stats-row">
        <Stat label="loss" value={<span data-testid="stat-loss">{formatLoss(loss)}</span>} />
        <Stat label="smoothed" value={formatLoss(smoothed)} />
        <Stat label="val loss" value={formatLoss(val)} />
        <Stat label="tokens/s" value={h.tokensPerSecond.length ? Math.round(h.tokensPerSecond.at(-1) as number).toLocaleString() : '–'} />
        <Stat label="per step" value={per !== null ? formatDuration(per) : '–'} />
        <Stat label={run.status === 'running' ? 'ETA' : 'elapsed'} value={run.status === 'running' ? (eta !== null ? formatDuration(eta) : '–') : formatDuration(h.time.at(-1) ?? 0)} />
        <Stat
          label="tensors"
          title="tf.memory().numTensors in the worker after each step: flat means nothing leaks"
          value={
            <span data-testid="stat-tensors" data-counts={run.tensorCounts.join(',')}>
              {run.numTensors ?? '–'}
            </span>
          }
        />
      </div>
      <div className="muted small">
        {run.lastCheckpoint
          ? `Checkpoint (trained values + optimizer state) saved at step ${run.lastCheckpoint.step}, ${timeAgo(run.lastCheckpoint.savedAt)}.`
          : 'A checkpoint is saved every 5 steps, so a reload or crash never loses the run.'}
      </div>
    </div>
  );
}

export function TrainPanel() {
  const run = useStore(app, (s) => s.run);
  const version = useStore(app, (s) => s.run?.version ?? 0);
  const runs = useStore(app, (s) => s.runs);
  const overlay = useStore(app, (s) => s.overlay);
  const [smoothing, setSmoothing] = useState(0.8);
  const earlier = runs.filter((r) => r.id !== run?.id);
  const shown = earlier.filter((r) => overlay.includes(r.id));

  const loss = useMemo(() => {
    const h = run?.history;
    const series: ChartSeries[] = [];
    const data: { x: number[]; y: number[] }[] = [];
    shown.forEach((r, i) => {
      series.push({ label: r.spec.label, color: OVERLAY_COLORS[i % OVERLAY_COLORS.length], width: 1.5, dash: [6, 4] });
      data.push({ x: r.history.step, y: smooth(r.history.loss, smoothing) });
    });
    if (h) {
      series.push({ label: 'loss', color: '#c4b5fd', width: 1 }, { label: 'smoothed', color: LOSS, width: 2.2 }, { label: 'val loss', color: '#059669', pointsOnly: true });
      data.push({ x: h.step, y: h.loss }, { x: h.step, y: smooth(h.loss, smoothing) }, { x: h.evalStep, y: h.valLoss });
    }
    return { series, data: align(data) as uPlot.AlignedData };
    // The live history is mutated in place as steps arrive: `version` is what says it changed.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [version, run?.id, shown.map((r) => r.id).join(), smoothing]);

  const side = useMemo(() => {
    const h = run?.history;
    return {
      lr: [h?.step ?? [], h?.lr ?? []] as uPlot.AlignedData,
      tps: [h?.step ?? [], h?.tokensPerSecond ?? []] as uPlot.AlignedData,
    };
    // As above: `version` stands for the history mutated in place.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [version, run?.id]);

  return (
    <div className="train-panel">
      <TrainControls />
      {run && <RunProgress run={run} />}
      {run?.warnings.map((w) => (
        <Callout key={w} kind="warning">
          {w}
        </Callout>
      ))}
      {!run && shown.length === 0 && (
        <div className="empty">
          <p>
            Press <b>Train</b>. The loss of every step appears here as it is computed; only the method&apos;s own values change ({methodTitle(app.get().method)}), every model weight stays frozen.
          </p>
        </div>
      )}
      {/* The loss chart is there before the first run: its canvas is made while the page is idle. With a
          software WebGPU adapter the GPU process is busy for seconds once a step runs, and a canvas
          made then stalls the page until the step ends. */}
      <Chart title="Training loss" series={loss.series} data={loss.data} height={260} yLabel="cross-entropy" testId="loss-chart" />
      {(run || shown.length > 0) && (
        <>
          <div className="row gap small chart-options">
            <label htmlFor="smoothing">Smoothing {smoothing.toFixed(2)}</label>
            <input id="smoothing" type="range" min={0} max={0.99} step={0.01} value={smoothing} onChange={(e) => setSmoothing(Number(e.target.value))} />
          </div>
          {run && (
            <div className="grid-2 charts-small">
              <Chart title="Learning rate" series={[{ label: 'lr', color: '#f59e0b' }]} data={side.lr} height={150} format={(v) => v.toExponential(1)} testId="lr-chart" />
              <Chart title="Tokens per second" series={[{ label: 'tokens/s', color: '#0ea5e9' }]} data={side.tps} height={150} testId="tps-chart" />
            </div>
          )}
        </>
      )}
      {earlier.length > 0 && (
        <div className="compare">
          <h3>Compare with earlier runs</h3>
          <ul className="run-list">
            {earlier.slice(0, 12).map((r) => {
              const i = shown.findIndex((x) => x.id === r.id);
              return (
                <li key={r.id}>
                  <label>
                    <input type="checkbox" checked={overlay.includes(r.id)} onChange={() => toggleOverlay(r.id)} />
                    <span className="swatch" style={{ background: i >= 0 ? OVERLAY_COLORS[i % OVERLAY_COLORS.length] : 'transparent' }} />
                    {r.spec.label}
                  </label>
                  <span className="muted small">
                    {r.stepsDone} steps · loss {formatLoss(r.history.loss.at(-1))} · {r.status} · {timeAgo(r.createdAt)}
                  </span>
                  <button className="link small" onClick={() => void deleteRun(r.id)} title="Delete this run's curves (its adapter stays)">
                    delete
                  </button>
                </li>
              );
            })}
          </ul>
        </div>
      )}
    </div>
  );
}
