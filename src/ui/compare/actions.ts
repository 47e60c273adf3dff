// The method comparison: the ticked methods trained one after another on the current data and
// settings (the same dataset, seed and split; each a normal stored run with its adapter), then
// each scored on its run's stored validation rows, with the no-adapter and majority baselines.
import { majorityBaseline, normalizeLabel } from '../../engine/data/labels.ts';
import type { EvalCondition, MethodName, RunEnd, RunSummaryRecord } from '../../worker/protocol.ts';
import { refreshRunsAndAdapters } from '../adapters/actions.ts';
import { api, onEngineEvent } from '../app/engine.ts';
import { app, isTraining, type Comparison, type CompareRow, type LiveRun } from '../app/state.ts';
import { toast } from '../app/toasts.ts';
import { errorMessage } from '../engine/client.ts';
import { lrFor, METHOD_LIST, virtualTokensOf } from '../prompt/methods.ts';
import { begin, specFor } from '../train/actions.ts';

let stopRequested = false;

export function toggleCompareMethod(m: MethodName): void {
  app.set((s) => ({ compareMethods: s.compareMethods.includes(m) ? s.compareMethods.filter((x) => x !== m) : [...s.compareMethods, m] }));
}

const emptyRow = (method: MethodName): CompareRow => ({
  method,
  label: '',
  status: 'waiting',
  error: null,
  runId: null,
  adapterId: null,
  cost: null,
  evalLoss: null,
  accuracy: null,
  perLabel: null,
  history: null,
});

function setComparison(change: Partial<Comparison>): void {
  app.set((s) => ({ comparison: { ...s.comparison, ...change } }));
}

function setRow(method: MethodName, change: Partial<CompareRow>): void {
  app.set((s) => ({ comparison: { ...s.comparison, entries: s.comparison.entries.map((r) => (r.method === method ? { ...r, ...change } : r)) } }));
}

/** Resolves with the run's end (its adapter saved, or why not), and the live run as the page holds it then. */
function runEnded(runId: string): Promise<{ end: RunEnd; run: LiveRun | null }> {
  return new Promise((resolve) => {
    const done = (end: RunEnd) => {
      stop();
      unsubscribe();
      const r = app.get().run;
      resolve({ end, run: r && r.id === runId ? r : null });
    };
    const stop = onEngineEvent((e) => {
      if (e.type === 'run-end' && e.end.runId === runId) done(e.end);
    });
    // A crashed worker sends no run-end: the page marks the run interrupted itself.
    const unsubscribe = app.subscribe(() => {
      const r = app.get().run;
      if (r?.id === runId && r.status === 'interrupted') done({ runId, status: 'interrupted', stopReason: null, message: r.message, adapterId: null, steps: r.history.step.length });
    });
  });
}

/** Stops the run in progress and trains no further method. */
export function stopComparison(): void {
  stopRequested = true;
  if (isTraining(app.get())) void api().stopRun();
}

/** Trains each ticked method in turn, then scores it on its run's stored validation rows. */
export async function runComparison(): Promise<void> {
  const s = app.get();
  if (isTraining(s) || s.comparison.status === 'running') return;
  const methods = METHOD_LIST.map((m) => m.name).filter((m) => s.compareMethods.includes(m));
  if (!methods.length) return;
  stopRequested = false;
  const labelTask = s.mapping?.kind === 'label';
  setComparison({ status: 'running', rows: null, entries: methods.map(emptyRow), majority: null, none: null, error: null });
  let validation: number[] | null = null;
  for (const m of methods) {
    if (stopRequested) {
      setRow(m, { status: 'skipped' });
      continue;
    }
    const spec = specFor(m, lrFor(app.get(), m));
    if (!spec) {
      setRow(m, { status: 'failed', error: 'load a model and choose a dataset first' });
      continue;
    }
    setRow(m, { status: 'training', label: spec.label });
    const runId = await begin(() => api().startRun(spec), spec.label, virtualTokensOf(app.get(), m), spec.train.epochs, m, false);
    if (!runId) {
      setRow(m, { status: 'failed', error: app.get().run?.message ?? 'the run did not start' });
      continue;
    }
    setRow(m, { runId });
    const { end, run: live } = await runEnded(runId);
    if (!end.adapterId) {
      setRow(m, { status: 'failed', error: `${end.status}: ${end.message}` });
      continue;
    }
    const adapterId = end.adapterId;
    setRow(m, { status: 'evaluating', adapterId });
    try {
      const e = api();
      const record: RunSummaryRecord | undefined = (await e.listRuns()).find((r) => r.id === runId);
      // Every run splits the same rows with the same seed: the baselines are scored once, on the first run's rows.
      const first = app.get().comparison.none === null;
      if (record && validation && record.split.validation.join() !== validation.join()) {
        setComparison({ error: `run "${spec.label}" validated on other rows than the first run: the baselines are on the first run's rows` });
      }
      const conditions: EvalCondition[] = first ? [{ kind: 'none' }, { kind: 'adapter', adapterId: adapterId }] : [{ kind: 'adapter', adapterId: adapterId }];
      const ev = await e.evaluate({ set: { kind: 'run', runId, part: 'validation', limit: null }, conditions, labelTask });
      const mine = ev.results.at(-1)!;
      if (first) {
        validation = record?.split.validation ?? null;
        const none = ev.results[0];
        const majority = labelTask ? majorityBaseline(ev.examples) : null;
        const labels = [...new Set(ev.examples.map((x) => x.target.trim()))];
        setComparison({
          rows: ev.rows,
          none: { loss: none.loss, accuracy: none.labels?.accuracy ?? null, perLabel: none.labels?.perLabel ?? null },
          majority: majority && { ...majority, perLabel: Object.fromEntries(labels.map((l) => [l, normalizeLabel(l) === majority.label ? 1 : 0])) },
        });
      }
      setRow(m, {
        status: 'done',
        cost: record?.cost ?? null,
        evalLoss: mine.loss,
        accuracy: mine.labels?.accuracy ?? null,
        perLabel: mine.labels?.perLabel ?? null,
        history: record?.history ?? live?.history ?? null,
      });
    } catch (err) {
      setRow(m, { status: 'failed', error: `evaluation failed: ${errorMessage(err)}` });
    }
  }
  await refreshRunsAndAdapters().catch(() => undefined);
  const stopped = stopRequested;
  setComparison({ status: stopped ? 'stopped' : 'done' });
  const done = app.get().comparison.entries.filter((r) => r.status === 'done').length;
  toast(done === methods.length ? 'success' : 'warning', `Comparison ${stopped ? 'stopped' : 'finished'}: ${done} of ${methods.length} methods trained and scored.`);
}
