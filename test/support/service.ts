// The tab's engine (EngineService) in Node on WASM over one model folder, as the worker tests use
// it: the events it sends, and a run trained to its end.
import { initNodeBackend } from '../../src/node/backend.ts';
import { FolderSource } from '../../src/node/folder-source.ts';
import type { EngineEvent, RunEnd, RunSpec } from '../../src/worker/protocol.ts';
import { EngineService } from '../../src/worker/service.ts';

export interface NodeService {
  service: EngineService;
  /** Every event the service sent, in order. */
  events: EngineEvent[];
  /** Starts a run and resolves with its run-end. */
  train(spec: RunSpec): Promise<RunEnd>;
}

/** An EngineService on WASM with `modelDir` loaded (as a picked local folder named `name`). */
export async function nodeService(modelDir: string, name: string): Promise<NodeService> {
  await initNodeBackend();
  const service = new EngineService({
    initBackend: async () => ({ info: { name: 'wasm', requested: 'wasm', adapter: null, threads: 1, crossOriginIsolated: false, notes: [] }, deviceLost: new Promise(() => {}), loseDevice() {} }),
    sourceFor: async () => new FolderSource(modelDir),
    embeddedFiles: async () => ({}),
  });
  const events: EngineEvent[] = [];
  service.subscribe((e) => events.push(e));
  await service.init('wasm');
  await service.loadModel({ kind: 'files', name, files: [] });
  const train = async (spec: RunSpec) => {
    const started = await service.startRun(spec);
    return new Promise<RunEnd>((resolve) => {
      const check = setInterval(() => {
        const e = events.find((x): x is Extract<EngineEvent, { type: 'run-end' }> => x.type === 'run-end' && x.end.runId === started.runId);
        if (e) resolve((clearInterval(check), e.end));
      }, 20);
    });
  };
  return { service, events, train };
}
