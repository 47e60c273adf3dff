// What the panels can do: each action calls the engine worker and/or IndexedDB and updates the
// shared state. Errors are shown where they happened and never discard a trained prompt.
import { detectColumns, toExamples, type ColumnMapping } from '../../engine/data/examples.ts';
import { parseDataset, type Row } from '../../engine/data/parse.ts';
import { deleteAdapter as dbDeleteAdapter, deleteRun as dbDeleteRun, getCheckpoint, listAdapters, listRuns, summaryOf, updateAdapter } from '../../store/db.ts';
import type { BackendName, EngineEvent, ModelSpec, RunSpec } from '../../worker/protocol.ts';
import { downloadBytes } from '../adapters/download.ts';
import { availableBuiltins, datasetUrl, fetchText, type BuiltinDataset } from '../data/builtins.ts';
import { startEngine, errorMessage, type EngineApi, type EngineHandle } from '../engine/client.ts';
import { availableEmbedded, embeddedSpec } from '../model/models.ts';
import { app, isTraining, type Dataset, type LiveRun, type Toast } from './state.ts';

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

// ------------------------------------------------------------------ toasts

let toastId = 0;
export function toast(kind: Toast['kind'], text: string, ms = kind === 'error' ? 9000 : 4500): void {
  const id = ++toastId;
  app.set((s) => ({ toasts: [...s.toasts, { id, kind, text }] }));
  setTimeout(() => dismissToast(id), ms);
}
export function dismissToast(id: number): void {
  app.set((s) => ({ toasts: s.toasts.filter((t) => t.id !== id) }));
}

// ------------------------------------------------------------------ engine lifecycle

const BACKEND_KEY = 'pt-backend';
const PAGEHIDE_KEY = 'pt-pagehide';

function preferredBackend(): BackendName {
  const fromUrl = new URLSearchParams(location.search).get('backend');
  if (fromUrl === 'webgpu' || fromUrl === 'wasm' || fromUrl === 'cpu') return fromUrl;
  const saved = localStorage.getItem(BACKEND_KEY);
  return saved === 'wasm' || saved === 'cpu' || saved === 'webgpu' ? saved : 'webgpu';
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
  switch (e.type) {
    case 'load-progress': {
      const p = e.progress;
      const now = performance.now();
      app.set((s) => ({ loadFiles: { ...s.loadFiles, [p.file]: { loaded: p.loaded, total: p.total, cached: p.cached || s.loadFiles[p.file]?.cached === true, startedAt: s.loadFiles[p.file]?.startedAt ?? now, updatedAt: now } } }));
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
          toast('success', `Training ${end.status === 'completed' ? 'finished' : end.status}: ${end.message}. The soft prompt is saved in Adapters.`);
        } else if (end.status === 'interrupted') void detectRecovery();
      });
      return;
    }
    case 'task-progress':
      taskProgressListeners.forEach((l) => l(e.task, e.done, e.total));
      return;
    case 'device-lost':
      app.set({ deviceLost: e.message });
      return;
    case 'warning':
      toast('warning', e.message);
      return;
  }
}

export const taskProgressListeners = new Set<(task: string, done: number, total: number) => void>();

function updateRun(runId: string, change: (r: LiveRun) => Partial<LiveRun>): void {
  app.set((s) => (s.run && s.run.id === runId ? { run: { ...s.run, ...change(s.run), version: s.run.version + 1 } } : {}));
}

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
  addEventListener('pagehide', () => {
    const run = app.get().run;
    if (run && (run.status === 'running' || run.status === 'paused')) localStorage.setItem(PAGEHIDE_KEY, JSON.stringify({ runId: run.id, at: Date.now() }));
  });
  // The worker starts first: loading tfjs and its WASM or WebGPU backend is the longest part of
  // the first visit, and needs nothing from the lists fetched meanwhile.
  const launched = launch(backend).catch(() => undefined);
  const [embedded, builtins] = await Promise.all([availableEmbedded(), availableBuiltins(), refreshRunsAndAdapters()]);
  app.set({ embedded, builtins });
  const firstDataset = builtins.find((b) => b.id === 'complaint') ?? builtins[0];
  if (firstDataset) void selectBuiltin(firstDataset);
  await launched;
  if (!engine) return;
  await detectRecovery();
  const recovering = app.get().recovery;
  const wanted = recovering?.run.spec.model;
  if (wanted && wanted.kind !== 'files') await loadModel(wanted.kind === 'hub' ? { ...wanted } : embeddedSpec(wanted.name));
  else if (embedded[0]) await loadModel(embeddedSpec(embedded[0].name));
  else app.set({ modelStatus: 'error', modelError: 'No built-in model is on this server (public/models/). Load one from the Hub or a local folder.' });
}

/** Restarts the engine (after a device loss, a crash, or to change the backend) and reloads the model. */
export async function restartEngine(backend: BackendName): Promise<void> {
  if (isTraining(app.get()) && app.get().run?.status !== 'interrupted') {
    api().stopRun();
    await waitForRunEnd();
  }
  localStorage.setItem(BACKEND_KEY, backend);
  app.set({ engineStatus: 'restarting', preferredBackend: backend, model: null, modelStatus: 'idle' });
  await launch(backend);
  const spec = app.get().lastModelSpec;
  if (spec) await loadModel(spec);
  const active = app.get().activeAdapterId;
  if (active && app.get().model) await setActiveAdapter(active);
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

// ------------------------------------------------------------------ model

export async function loadModel(spec: ModelSpec): Promise<boolean> {
  const label = spec.kind === 'hub' ? spec.ref : spec.name;
  app.set({ modelStatus: 'loading', modelLabel: label, modelError: null, loadFiles: {}, loadStartedAt: performance.now() });
  try {
    const e = await whenEngine();
    const info = await e.loadModel(spec);
    app.set({ modelStatus: 'ready', model: info, lastModelSpec: spec, activeAdapterId: null, activeWarnings: [] });
    if (spec.kind === 'hub') localStorage.setItem('pt-hub-endpoint', spec.endpoint);
    void refreshStats();
    return true;
  } catch (err) {
    app.set({ modelStatus: app.get().model ? 'ready' : 'error', modelError: `Could not load ${label}: ${errorMessage(err)}` });
    return false;
  }
}

// ------------------------------------------------------------------ data

function parseRows(text: string, name: string): Row[] {
  return parseDataset(text, name);
}

export async function selectBuiltin(b: BuiltinDataset): Promise<void> {
  const [train, test, readme] = await Promise.all([fetchText(datasetUrl(b.id, 'train')), fetchText(datasetUrl(b.id, 'test')), fetchText(datasetUrl(b.id, 'README'))]);
  if (!train) {
    app.set({ dataError: `${b.id}.train.jsonl could not be fetched from the server` });
    return;
  }
  try {
    const rows = parseRows(train, `${b.id}.train.jsonl`);
    const testRows = test ? parseRows(test, `${b.id}.test.jsonl`) : null;
    const description = readme ? readmeSummary(readme) : b.summary;
    setDataset({ name: b.id, source: { kind: 'builtin', id: b.id }, rows, testRows, columns: Object.keys(rows[0]), description }, { template: b.template });
    const p = app.get().prompt;
    if (p.kind === 'TEXT' && (p.text === null || app.get().builtins.some((x) => x.initText === p.text))) app.set({ prompt: { ...p, text: b.initText } });
  } catch (e) {
    app.set({ dataError: errorMessage(e) });
  }
}

function readmeSummary(md: string): string {
  const paragraphs = md.split(/\n\s*\n/).map((p) => p.trim()).filter((p) => p && !p.startsWith('#'));
  return paragraphs[0] ?? '';
}

/** Uploaded or pasted CSV / JSONL. */
export function loadDatasetText(text: string, name: string, source: Dataset['source']): void {
  try {
    const rows = parseRows(text, name);
    setDataset({ name, source, rows, testRows: null, columns: Object.keys(rows[0]), description: null }, {});
  } catch (e) {
    app.set({ dataError: errorMessage(e) });
  }
}

function setDataset(d: Dataset, hint: { template?: string }): void {
  let mapping: ColumnMapping;
  try {
    mapping = detectColumns(d.rows, d.name);
    if (hint.template) mapping = { ...mapping, template: hint.template };
  } catch {
    // No text/label or prompt/completion columns: the user maps them (first two columns meanwhile).
    const [a, b] = d.columns;
    mapping = { kind: 'label', input: a, target: b ?? a, template: `{${a}}` };
  }
  app.set({ dataset: d, dataError: null });
  setMapping(mapping);
}

export function setMapping(mapping: ColumnMapping): void {
  const d = app.get().dataset;
  if (!d) return;
  try {
    const examples = toExamples(d.rows, mapping, d.name);
    const testExamples = d.testRows ? toExamples(d.testRows, mapping, `${d.name} (test)`) : null;
    app.set({ mapping, examples, testExamples, dataError: null });
  } catch (e) {
    app.set({ mapping, examples: null, testExamples: null, dataError: errorMessage(e) });
  }
  void refreshStats();
}

let statsTimer: ReturnType<typeof setTimeout> | null = null;
/** Recomputes split, steps and token-length statistics (debounced; runs in the worker). */
export function refreshStats(): Promise<void> {
  if (statsTimer) clearTimeout(statsTimer);
  return new Promise((resolve) => {
    statsTimer = setTimeout(async () => {
      const s = app.get();
      if (!s.examples || !s.model || !engine) return resolve();
      try {
        const request = {
          examples: s.examples,
          numVirtualTokens: s.prompt.numVirtualTokens,
          maxLength: s.train.maxLength,
          batchSize: s.train.batchSize,
          epochs: s.train.epochs,
          valSplit: s.train.valSplit,
          seed: s.train.seed,
        };
        let stats = await engine.api.dataStats(s.maxLengthAuto ? { ...request, maxLength: null } : request);
        if (s.maxLengthAuto) {
          // Fit the longest example (rounded up to 16), within what the context leaves.
          const fit = Math.min(stats.maxLength, Math.max(16, Math.ceil(Math.max(stats.train.max, stats.val.max) / 16) * 16));
          app.set((st) => ({ train: { ...st.train, maxLength: fit } }));
          stats = await engine.api.dataStats({ ...request, maxLength: fit });
        }
        app.set({ stats, statsError: null });
      } catch (e) {
        app.set({ stats: null, statsError: errorMessage(e) });
      }
      resolve();
    }, 150);
  });
}

// ------------------------------------------------------------------ training

export function runLabel(spec: Omit<RunSpec, 'label' | 'model'>): string {
  const p = spec.prompt;
  return `${p.kind} · V ${p.numVirtualTokens} · lr ${spec.train.lr} · ${spec.data.name}`;
}

/** Validation every half epoch unless the user chose otherwise. */
function evalEvery(stepsPerEpoch: number, chosen: number | null): number | null {
  return chosen ?? Math.max(1, Math.ceil(stepsPerEpoch / 2));
}

export async function startTraining(): Promise<void> {
  const s = app.get();
  if (!s.model || !s.lastModelSpec || !s.dataset || !s.mapping || !s.examples) return;
  const stepsPerEpoch = s.stats?.stepsPerEpoch ?? 1;
  const base = {
    data: { name: s.dataset.name, rows: s.dataset.rows, mapping: s.mapping, testRows: s.dataset.testRows },
    prompt: { ...s.prompt, text: s.prompt.kind === 'TEXT' ? s.prompt.text : null },
    train: { ...s.train, evalEvery: evalEvery(stepsPerEpoch, s.train.evalEvery) },
  };
  const spec: RunSpec = { ...base, label: runLabel(base), model: s.model.ref };
  await begin(() => api().startRun(spec), spec.label, spec.prompt.numVirtualTokens, spec.train.epochs);
}

async function begin(start: () => Promise<import('../../worker/protocol.ts').RunStarted>, label: string, V: number, epochs: number): Promise<void> {
  const hiddenSize = app.get().model?.hiddenSize ?? 0;
  app.set({
    tab: 'train',
    run: { id: '', label, status: 'starting', totalSteps: 0, stepsPerEpoch: 0, epochs, history: emptyHistoryCopy(), version: 0, epoch: 0, lastCheckpoint: null, numTensors: null, tensorCounts: [], message: '', adapterId: null, warnings: [], numVirtualTokens: V, hiddenSize },
  });
  try {
    const started = await start();
    app.set((st) => ({
      run: st.run && { ...st.run, id: started.runId, totalSteps: started.totalSteps, stepsPerEpoch: started.stepsPerEpoch, history: started.history, warnings: started.warnings, lastCheckpoint: started.startStep ? { step: started.startStep, savedAt: Date.now() } : null, version: st.run.version + 1 },
    }));
    for (const w of started.warnings) toast('warning', w);
    void refreshRunsAndAdapters();
  } catch (e) {
    app.set((st) => ({ run: st.run && { ...st.run, status: 'failed', message: errorMessage(e) } }));
    toast('error', `Could not start training: ${errorMessage(e)}`);
  }
}

function emptyHistoryCopy() {
  return { step: [], loss: [], lr: [], tokensPerSecond: [], time: [], evalStep: [], valLoss: [] };
}

export function pauseTraining(): void {
  void api().pauseRun();
}
export function continueTraining(): void {
  void api().continueRun();
}
export function stopTraining(): void {
  void api().stopRun();
}

// ------------------------------------------------------------------ recovery

/** Finds the latest run that ended without its adapter being saved, and says why. */
export async function detectRecovery(knownReason?: string): Promise<void> {
  const runs = await listRuns();
  const open = runs.find((r) => r.adapterId === null && (r.status === 'running' || r.status === 'paused' || r.status === 'interrupted'));
  const live = app.get().run;
  if (!open || (live && live.id === open.id && (live.status === 'running' || live.status === 'paused' || live.status === 'starting'))) {
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
  const checkpoint = await getCheckpoint(open.id);
  app.set({ recovery: { run: open, reason, checkpoint: checkpoint ? { step: checkpoint.step, savedAt: checkpoint.savedAt } : null } });
}

export async function resumeRecovered(): Promise<void> {
  const rec = app.get().recovery;
  if (!rec) return;
  const want = rec.run.spec.model;
  const have = app.get().model?.ref;
  const same = have && JSON.stringify(have) === JSON.stringify(want);
  if (!same) {
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
  await begin(() => api().resumeRun(rec.run.id), spec.label, spec.prompt.numVirtualTokens, spec.train.epochs);
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
  await dbDeleteRun(rec.run.id);
  localStorage.removeItem(PAGEHIDE_KEY);
  app.set({ recovery: null });
  await refreshRunsAndAdapters();
}

// ------------------------------------------------------------------ runs and adapters

export async function refreshRunsAndAdapters(): Promise<void> {
  const [runs, adapters] = await Promise.all([listRuns(), listAdapters()]);
  app.set({ runs, adapters: adapters.map(summaryOf) });
}

export function toggleOverlay(runId: string): void {
  app.set((s) => ({ overlay: s.overlay.includes(runId) ? s.overlay.filter((x) => x !== runId) : [...s.overlay, runId] }));
}

export async function deleteRun(runId: string): Promise<void> {
  await dbDeleteRun(runId);
  app.set((s) => ({ overlay: s.overlay.filter((x) => x !== runId) }));
  await refreshRunsAndAdapters();
}

export async function setActiveAdapter(id: string | null): Promise<void> {
  try {
    const warnings = await api().setActiveAdapter(id);
    app.set({ activeAdapterId: id, activeWarnings: warnings });
  } catch (e) {
    app.set({ activeAdapterId: null, activeWarnings: [] });
    toast('error', `Could not use that adapter: ${errorMessage(e)}`);
  }
}

export async function renameAdapter(id: string, name: string): Promise<void> {
  await updateAdapter(id, { name });
  await refreshRunsAndAdapters();
}

export async function setAdapterAccuracy(id: string, accuracy: number): Promise<void> {
  const a = app.get().adapters.find((x) => x.id === id);
  if (!a) return;
  await updateAdapter(id, { metrics: { ...a.metrics, accuracy } });
  await refreshRunsAndAdapters();
}

export async function deleteAdapter(id: string): Promise<void> {
  if (app.get().activeAdapterId === id) await setActiveAdapter(null);
  await dbDeleteAdapter(id);
  await refreshRunsAndAdapters();
}

/** Exports an adapter (PEFT folder + train_peft.py + data) and saves it as one zip. */
export async function downloadAdapterZip(id: string): Promise<void> {
  try {
    const ex = await api().exportAdapter(id);
    downloadBytes(ex.zip, `${ex.folderName}.zip`, 'application/zip');
  } catch (e) {
    toast('error', `Export failed: ${errorMessage(e)}`);
  }
}

export async function importAdapter(files: File[]): Promise<string | null> {
  const uploads = await Promise.all(files.map(async (f) => ({ name: f.webkitRelativePath || f.name, bytes: new Uint8Array(await f.arrayBuffer()) })));
  const name = files.length === 1 ? files[0].name.replace(/\.zip$/i, '') : (files[0]?.webkitRelativePath.split('/')[0] || 'imported adapter');
  const result = await api().importAdapter(uploads, `${name} (imported)`);
  await refreshRunsAndAdapters();
  await setActiveAdapter(result.adapterId);
  return result.adapterId;
}
