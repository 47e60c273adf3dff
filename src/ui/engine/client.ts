// The page's handle on the engine worker. The UI thread never imports tfjs: every tensor lives
// in the worker, and this client only sends commands and receives events.
import * as Comlink from 'comlink';
import type { BackendInfo, BackendName, EngineCommands, EngineEvent } from '../../worker/protocol.ts';

/** The worker's commands, as the page calls them (each returns a promise). */
export type EngineApi = Comlink.Remote<EngineCommands>;

export interface EngineHandle {
  api: EngineApi;
  backend: BackendInfo;
  terminate(): void;
}

function spawnWorker(): Worker {
  return new Worker(new URL('../../worker/worker.ts', import.meta.url), { type: 'module', name: 'engine' });
}

let prespawned: { worker: Worker; error: string | null } | null = null;

/**
 * Creates the engine worker before the page's own modules load, so that the two module graphs
 * (tfjs and the engine in the worker, React and the panels on the page) download in parallel
 * on the first visit. The first startEngine takes it.
 */
export function prespawnEngineWorker(): void {
  if (prespawned) return;
  const early = { worker: spawnWorker(), error: null as string | null };
  // Kept until startEngine listens, so a worker that fails to load is still reported.
  early.worker.addEventListener('error', (e) => (early.error ??= e.message || 'the engine worker failed to load'), { once: true });
  prespawned = early;
}

/** Starts a fresh worker with the given backend. A crash of the worker calls onCrash. */
export async function startEngine(backend: BackendName, onEvent: (e: EngineEvent) => void, onCrash: (message: string) => void): Promise<EngineHandle> {
  const early = prespawned;
  prespawned = null;
  const worker = early?.worker ?? spawnWorker();
  let alive = true;
  worker.addEventListener('error', (e) => {
    if (alive) onCrash(e.message || 'the engine worker stopped unexpectedly');
  });
  if (early?.error) onCrash(early.error);
  const api = Comlink.wrap<EngineCommands>(worker);
  await api.subscribe(Comlink.proxy(onEvent));
  const info = await api.init(backend);
  return {
    api,
    backend: info,
    terminate() {
      alive = false;
      api[Comlink.releaseProxy]();
      worker.terminate();
    },
  };
}

/** Comlink rejects with the worker's error; its message is what users should read. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (e && typeof e === 'object' && 'message' in e) return String((e as { message: unknown }).message);
  return String(e);
}
