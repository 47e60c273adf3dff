// The page's handle on the engine worker. The UI thread never imports tfjs: every tensor lives
// in the worker, and this client only sends commands and receives events.
import * as Comlink from 'comlink';
import type { EngineService } from '../../worker/service.ts';
import type { BackendInfo, BackendName, EngineEvent } from '../../worker/protocol.ts';

export type EngineApi = Comlink.Remote<EngineService>;

export interface EngineHandle {
  api: EngineApi;
  backend: BackendInfo;
  terminate(): void;
}

/** Starts a fresh worker with the given backend. A crash of the worker calls onCrash. */
export async function startEngine(backend: BackendName, onEvent: (e: EngineEvent) => void, onCrash: (message: string) => void): Promise<EngineHandle> {
  const worker = new Worker(new URL('../../worker/worker.ts', import.meta.url), { type: 'module', name: 'engine' });
  let alive = true;
  worker.addEventListener('error', (e) => {
    if (alive) onCrash(e.message || 'the engine worker stopped unexpectedly');
  });
  const api = Comlink.wrap<EngineService>(worker);
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
