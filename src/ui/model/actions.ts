// The model panel's action: load a model into the engine worker.
import type { ModelSpec } from '../../worker/protocol.ts';
import { whenEngine } from '../app/engine.ts';
import { app } from '../app/state.ts';
import { errorMessage } from '../engine/client.ts';
import { refreshStats } from '../data/actions.ts';

/** The model being loaded now (a backend switch in the middle of a load reloads this one). */
let loading: { spec: ModelSpec; generation: number } | null = null;
let generation = 0;

/** The model a restarted engine should load: the one loading now, else the last one loaded. */
export function modelToReload(): ModelSpec | null {
  return loading?.spec ?? app.get().lastModelSpec;
}

export async function loadModel(spec: ModelSpec): Promise<boolean> {
  const label = spec.kind === 'hub' ? spec.ref : spec.name;
  const mine = { spec, generation: ++generation };
  loading = mine;
  app.set({ modelStatus: 'loading', modelLabel: label, modelError: null, loadFiles: {}, loadStartedAt: performance.now() });
  try {
    const e = await whenEngine();
    const info = await e.loadModel(spec);
    if (loading !== mine) return false; // a newer load (or a restarted engine) took over
    app.set({ modelStatus: 'ready', model: info, lastModelSpec: spec, activeAdapterId: null, activeWarnings: [] });
    if (spec.kind === 'hub') localStorage.setItem('pt-hub-endpoint', spec.endpoint);
    void refreshStats();
    return true;
  } catch (err) {
    if (loading !== mine) return false;
    app.set({ modelStatus: app.get().model ? 'ready' : 'error', modelError: `Could not load ${label}: ${errorMessage(err)}` });
    return false;
  } finally {
    if (loading === mine) loading = null;
  }
}
