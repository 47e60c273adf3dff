// The page's side of the engine worker: starting and restarting it, and the one pipeline every
// engine event goes through (state updates first, then the panels that listen).
import type { BackendName, EngineEvent } from '../../worker/protocol.ts';
import { refreshRunsAndAdapters, setActiveAdapter } from '../adapters/actions.ts';
import { selectBuiltin } from '../data/actions.ts';
import { availableBuiltins } from '../data/builtins.ts';
import { startEngine, errorMessage, type EngineApi, type EngineHandle } from '../engine/client.ts';
import { loadModel, modelToReload } from '../model/actions.ts';
import { availableEmbedded, embeddedSpec } from '../model/models.ts';
import { detectRecovery, markPageHidden } from '../recovery/actions.ts';
import { app, isTraining, type LiveRun } from './state.ts';
import { toast } from './toasts.ts';

let engine: EngineHandle | null = null;
let engineReady: Promise<EngineHandle> | null = null;

export function api(): EngineApi {
  if (!engine) throw new Error('the engine is still starting');
  return engine.api;
}

export async function whenEngine(): Promise<EngineApi> {
  if (!engineReady) throw new Error('the engine was not started');
  return (await engineReady).api;
}

const BACKEND_KEY = 'pt-backend';

function preferredBackend(): BackendName {
  const fromUrl = new URLSearchParams(location.search).get('backend');
  if (fromUrl === 'webgpu' || fromUrl === 'wasm' || fromUrl === 'cpu') return fromUrl;
  const saved = localStorage.getItem(BACKEND_KEY);
  return saved === 'wasm' || saved === 'cpu' || saved === 'webgpu' ? saved : 'webgpu';
}

// ------------------------------------------------------------------ the event pipeline

const listeners = new Set<(e: EngineEvent) => void>();

/** Panels that need an event beyond the shared state (e.g. evaluation progress) listen here. */
export function onEngineEvent(listener: (e: EngineEvent) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

// Progress and step events come in bursts; the page redraws for them at most every 50 ms.
const COALESCED = new Set<EngineEvent['type']>(['load-progress', 'step', 'eval', 'checkpoint']);
let queued: EngineEvent[] = [];
let flushTimer: ReturnType<typeof setTimeout> | null = null;

function flushEvents(): void {
  if (flushTimer) clearTimeout(flushTimer);
  flushTimer = null;
  const events = queued;
  queued = [];
  if (events.length) app.batch(() => events.forEach(handleEvent));
}

function onEvent(e: EngineEvent): void {
  if (COALESCED.has(e.type)) {
    queued.push(e);
    flushTimer ??= setTimeout(flushEvents, 50);
    return;
  }
  flushEvents();
  handleEvent(e);
}

function handleEvent(e: EngineEvent): void {
  applyEvent(e);
  for (const l of listeners) l(e);
}

function applyEvent(e: EngineEvent): void {
  switch (e.type) {
    case 'load-progress': {
      const p = e.progress;
      const now = performance.now();
      app.set((s) => ({
        loadFiles: {
          ...s.loadFiles,
          [p.file]: { loaded: p.loaded, total: p.total, cached: p.cached || s.loadFiles[p.file]?.cached === true, startedAt: s.loadFiles[p.file]?.startedAt ?? now, updatedAt: now },
        },
      }));
      return;
    }
    case 'step':
      return updateRun(e.runId, (r) => {
        const h = r.history;
        h.step.push(e.step);
        h.loss.push(e.loss);
        h.lr.push(e.lr);
        h.tokensPerSecond.push(e.tokensPerSecond);
        h.time.push(e.seconds);
        return { epoch: e.epoch, numTensors: e.numTensors, tensorCounts: [...r.tensorCounts, e.numTensors], status: r.status === 'starting' ? 'running' : r.status };
      });
    case 'eval':
      return updateRun(e.runId, (r) => {
        r.history.evalStep.push(e.step);
        r.history.valLoss.push(e.valLoss);
        return {};
      });
    case 'checkpoint':
      return updateRun(e.runId, () => ({ lastCheckpoint: { step: e.step, savedAt: e.savedAt } }));
    case 'run-state':
      return updateRun(e.runId, () => ({ status: e.status }));
    case 'run-end': {
      const { end } = e;
      updateRun(end.runId, () => ({ status: end.status, message: end.message, adapterId: end.adapterId }));
      void refreshRunsAndAdapters().then(() => {
        if (end.adapterId) {
          void setActiveAdapter(end.adapterId);
          toast('success', `Training ${end.status === 'completed' ? 'finished' : end.status}: ${end.message}. The adapter is saved in Adapters.`);
        } else if (end.status === 'interrupted') void detectRecovery();
      });
      return;
    }
    case 'task-progress': {
      // Only a live run's own finishing work shows in its progress line; other tasks show where they were asked for.
      const run = app.get().run;
      if (run?.status === 'running' && e.task.startsWith('Scoring')) updateRun(run.id, () => ({ activity: `${e.task}: ${e.done} / ${e.total}` }));
      return;
    }
    case 'device-lost':
      app.set({ deviceLost: e.message });
      return;
    case 'warning':
      toast('warning', e.message);
      return;
  }
}

export function updateRun(runId: string, change: (r: LiveRun) => Partial<LiveRun>): void {
  app.set((s) => (s.run && s.run.id === runId ? { run: { ...s.run, ...change(s.run), version: s.run.version + 1 } } : {}));
}

// ------------------------------------------------------------------ lifecycle

function onCrash(message: string): void {
  app.set({ engineStatus: 'failed', engineError: `The engine worker crashed: ${message}` });
  const run = app.get().run;
  if (run && (run.status === 'running' || run.status === 'paused')) {
    updateRun(run.id, () => ({ status: 'interrupted', message: `the engine worker crashed: ${message}` }));
    void detectRecovery(`The engine worker crashed during training (${message}).`);
  }
}

async function launch(backend: BackendName): Promise<EngineHandle> {
  engine?.terminate();
  engine = null;
  engineReady = startEngine(backend, onEvent, onCrash);
  try {
    engine = await engineReady;
    app.set({ engineStatus: 'ready', engineError: null, backend: engine.backend, deviceLost: null });
    return engine;
  } catch (e) {
    app.set({ engineStatus: 'failed', engineError: `The engine could not start: ${errorMessage(e)}` });
    throw e;
  }
}

/** Hooks for the end-to-end tests (and curious users in the console). */
function exposeTestHooks(): void {
  (globalThis as { __playground?: unknown }).__playground = {
    memory: () => api().memory(),
    /** Destroys the WebGPU device, as a driver reset would. */
    loseDevice: () => api().loseDevice(),
    state: () => app.get(),
  };
}

/** First start: engine, default model, datasets, stored adapters and any run to recover. */
export async function boot(): Promise<void> {
  exposeTestHooks();
  const backend = preferredBackend();
  const hub = new URLSearchParams(location.search).get('hub') ?? localStorage.getItem('pt-hub-endpoint');
  app.set({ preferredBackend: backend, ...(hub ? { hubEndpoint: hub } : {}) });
  addEventListener('pagehide', markPageHidden);
  // The worker starts first: loading tfjs and its WASM or WebGPU backend is the longest part of
  // the first visit, and needs nothing from the lists fetched meanwhile.
  const launched = launch(backend).catch(() => undefined);
  const [embedded, builtins] = await Promise.all([availableEmbedded(), availableBuiltins()]);
  app.set({ embedded, builtins });
  const firstDataset = builtins.find((b) => b.id === 'complaint') ?? builtins[0];
  if (firstDataset) void selectBuiltin(firstDataset);
  await launched;
  if (!engine) return;
  await refreshRunsAndAdapters();
  await detectRecovery();
  const recovering = app.get().recovery;
  const wanted = recovering?.run.spec.model;
  if (wanted && wanted.kind !== 'files') await loadModel(wanted.kind === 'hub' ? { ...wanted } : embeddedSpec(wanted.name));
  else if (embedded[0]) await loadModel(embeddedSpec(embedded[0].name));
  else app.set({ modelStatus: 'error', modelError: 'No built-in model is on this server (public/models/). Load one from the Hub or a local folder.' });
}

/**
 * Restarts the engine (after a device loss, a crash, or to change the backend) and loads the
 * current model on it again, also one still loading when the switch was asked for; the data,
 * settings and runs stay as they are.
 */
export async function restartEngine(backend: BackendName): Promise<void> {
  if (isTraining(app.get()) && app.get().run?.status !== 'interrupted') {
    api().stopRun();
    await waitForRunEnd();
  }
  const spec = modelToReload();
  const active = app.get().activeAdapterId;
  localStorage.setItem(BACKEND_KEY, backend);
  app.set({ engineStatus: 'restarting', preferredBackend: backend, model: null, modelStatus: spec ? 'loading' : 'idle' });
  await launch(backend);
  if (spec && (await loadModel(spec)) && active) await setActiveAdapter(active);
}

function waitForRunEnd(): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (!isTraining(app.get())) {
        unsub();
        resolve();
      }
    };
    const unsub = app.subscribe(check);
    check();
  });
}
