// The recovery banner's actions: after a reload, a crash or a device loss, say what happened and
// resume the run, keep its checkpoint as an adapter, or discard it.
import { sameModel } from '../../store/records.ts';
import { refreshRunsAndAdapters, setActiveAdapter } from '../adapters/actions.ts';
import { api, whenEngine } from '../app/engine.ts';
import { app } from '../app/state.ts';
import { toast } from '../app/toasts.ts';
import { errorMessage } from '../engine/client.ts';
import { loadModel } from '../model/actions.ts';
import { embeddedSpec } from '../model/models.ts';
import { begin } from '../train/actions.ts';

const PAGEHIDE_KEY = 'pt-pagehide';

/** Remembers that the page went away mid-run, so the next visit can say so. */
export function markPageHidden(): void {
  const run = app.get().run;
  if (run && (run.status === 'running' || run.status === 'paused')) localStorage.setItem(PAGEHIDE_KEY, JSON.stringify({ runId: run.id, at: Date.now() }));
}

/** Finds the latest run that ended without its adapter being saved, and says why. */
export async function detectRecovery(knownReason?: string): Promise<void> {
  const found = await (await whenEngine()).recoverable();
  const open = found?.run;
  const live = app.get().run;
  if (!found || !open || (live && live.id === open.id && (live.status === 'running' || live.status === 'paused' || live.status === 'starting'))) {
    app.set({ recovery: null });
    return;
  }
  let reason = knownReason ?? '';
  if (!reason) {
    const hidden = JSON.parse(localStorage.getItem(PAGEHIDE_KEY) ?? 'null') as { runId: string; at: number } | null;
    if (open.status === 'interrupted') reason = `It stopped because ${open.statusMessage || 'of an error'}.`;
    else if (open.status === 'paused') reason = 'The page was closed or reloaded while the run was paused.';
    else if (hidden?.runId === open.id) reason = 'The page was reloaded or closed while it was training.';
    else reason = 'The tab or the engine crashed while it was training.';
  }
  app.set({ recovery: { run: open, reason, checkpoint: found.checkpoint } });
}

export async function resumeRecovered(): Promise<void> {
  const rec = app.get().recovery;
  if (!rec) return;
  const want = rec.run.spec.model;
  const have = app.get().model?.ref;
  if (!have || !sameModel(want, have)) {
    if (want.kind === 'files') {
      toast('warning', `This run trained on the local folder "${want.name}": load that folder again in the Model panel, then press Resume.`);
      return;
    }
    const ok = await loadModel(want.kind === 'hub' ? { ...want } : embeddedSpec(want.name));
    if (!ok) return;
  }
  localStorage.removeItem(PAGEHIDE_KEY);
  app.set({ recovery: null });
  const spec = rec.run.spec;
  await begin(
    () => api().resumeRun(rec.run.id),
    spec.label,
    spec.method && 'numVirtualTokens' in spec.method ? spec.method.numVirtualTokens : spec.method ? 0 : spec.prompt.numVirtualTokens,
    spec.train.epochs,
    spec.method?.method ?? 'prompt',
  );
}

export async function keepRecoveredCheckpoint(): Promise<void> {
  const rec = app.get().recovery;
  if (!rec) return;
  try {
    const id = await api().adapterFromCheckpoint(rec.run.id);
    localStorage.removeItem(PAGEHIDE_KEY);
    app.set({ recovery: null });
    await refreshRunsAndAdapters();
    await setActiveAdapter(id);
    toast('success', `Saved the step-${rec.checkpoint?.step} checkpoint as an adapter.`);
  } catch (e) {
    toast('error', errorMessage(e));
  }
}

export async function discardRecovered(): Promise<void> {
  const rec = app.get().recovery;
  if (!rec) return;
  await api().deleteRun(rec.run.id);
  localStorage.removeItem(PAGEHIDE_KEY);
  app.set({ recovery: null });
  await refreshRunsAndAdapters();
}
