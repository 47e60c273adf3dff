// The worker's backend and loaded model: the tfjs backend (and the loss of its GPU device), the
// one loaded model with the facts the page shows, the browser cache its files load through, and
// the adapter prompt made active on it. Loading another model disposes the last one's tensors.
import { embeddingScale, type EmbeddingScale } from '../engine/inspect.ts';
import type { ModelSource } from '../engine/io/source.ts';
import { loadModel, type LoadedModel } from '../engine/load.ts';
import { describeRef, sameModel, type ModelRef, type RunSummaryRecord } from '../store/records.ts';
import type { BackendHandle } from './backend.ts';
import { EngineError } from './engine-error.ts';
import { CacheStorageFileCache } from './file-cache.ts';
import type { BackendInfo, BackendName, EngineEvent, ModelInfo, ModelSpec, RunSpec } from './protocol.ts';

/** What the session needs from its host: the browser worker (worker.ts) or a Node test. */
export interface ModelHost {
  initBackend(requested: BackendName): Promise<BackendHandle>;
  sourceFor(spec: ModelSpec, cache: CacheStorageFileCache): Promise<ModelSource>;
}

const refOf = (spec: ModelSpec): ModelRef =>
  spec.kind === 'embedded' ? { kind: 'embedded', name: spec.name, url: spec.url } : spec.kind === 'hub' ? { kind: 'hub', ref: spec.ref, endpoint: spec.endpoint } : { kind: 'files', name: spec.name };

export class ModelSession {
  private backend: BackendHandle | null = null;
  private deviceGone: string | null = null;
  private lm: LoadedModel | null = null;
  private loaded: ModelInfo | null = null;
  private scale: EmbeddingScale | null = null;
  private active: { id: string; dispose(): void } | null = null;
  readonly cache = new CacheStorageFileCache();

  constructor(
    private readonly host: ModelHost,
    private readonly emit: (e: EngineEvent) => void,
  ) {}

  async init(requested: BackendName): Promise<BackendInfo> {
    if (this.backend) return this.backend.info;
    this.backend = await this.host.initBackend(requested);
    void this.backend.deviceLost.then((message) => {
      this.deviceGone = message;
      this.emit({ type: 'device-lost', message });
    });
    return this.backend.info;
  }

  /** The backend in use; null before init. */
  get backendName(): BackendName | null {
    return this.backend?.info.name ?? null;
  }

  /** Resolves with the reason when the GPU device is lost (never, for a backend without one). */
  get deviceLost(): Promise<string> {
    return this.backend?.deviceLost ?? new Promise(() => {});
  }

  /** The loaded model's facts, as the page got them; null before a model is loaded. */
  get info(): ModelInfo | null {
    return this.loaded;
  }

  /** Mean L2 norm of the loaded model's token embedding rows (0 before one is loaded). */
  get embeddingNorm(): number {
    return this.scale?.mean ?? 0;
  }

  /** The loaded model, on a live device. */
  need(): LoadedModel {
    if (this.deviceGone) throw new EngineError(`the WebGPU device was lost (${this.deviceGone}); restart the engine`);
    if (!this.lm) throw new EngineError('no model is loaded yet');
    return this.lm;
  }

  /** Throws unless the loaded model is the one the run names (and, for a stored run, as wide as it was). */
  checkModelFor(run: RunSummaryRecord | RunSpec): void {
    const spec = 'spec' in run ? run.spec : run;
    const lm = this.need();
    const have = this.loaded?.ref;
    if (!have || !sameModel(spec.model, have)) throw new EngineError(`this run was trained on ${describeRef(spec.model)}, but ${have ? describeRef(have) : 'no model'} is loaded`);
    if ('hiddenSize' in run && run.hiddenSize !== lm.model.config.hiddenSize)
      throw new EngineError(`the loaded model's hidden size ${lm.model.config.hiddenSize} differs from the run's ${run.hiddenSize}`);
  }

  /** Loads a model in place of the current one, with load-progress events (at most one per file per 100 ms). */
  async load(spec: ModelSpec): Promise<ModelInfo> {
    if (!this.backend) throw new EngineError('the engine is not initialised');
    const t0 = performance.now();
    const hitsBefore = this.cache.hitBytes;
    const problemsBefore = this.cache.problems.length;
    const totals = new Map<string, number>();
    const seen = new Set<string>();
    const source = await this.host.sourceFor(spec, this.cache);
    let lastEmit = 0;
    const lm = await loadModel(source, (p) => {
      const cached = p.cached === true;
      const first = !seen.has(p.file);
      seen.add(p.file);
      if (!cached) totals.set(p.file, p.loaded);
      const now = performance.now();
      if (first || now - lastEmit > 100 || p.loaded === p.total) {
        lastEmit = now;
        this.emit({ type: 'load-progress', progress: { file: p.file, loaded: p.loaded, total: p.total, cached } });
      }
    });
    const cachedBytes = this.cache.hitBytes - hitsBefore;
    // Bytes that came over the network (a picked local folder downloads nothing).
    const downloadedBytes = spec.kind === 'files' ? 0 : [...totals.values()].reduce((a, b) => a + b, 0);
    this.setActive(null);
    this.lm?.dispose();
    this.lm = lm;
    this.scale = await embeddingScale(lm.model, lm.tokenizer);
    this.loaded = {
      ref: refOf(spec),
      ...modelFacts(lm),
      embeddingNorm: this.scale.mean,
      downloadedBytes,
      cachedBytes,
      cacheProblems: this.cache.problems.slice(problemsBefore).map(({ file, reason, message }) => ({ file, reason, message })),
      loadSeconds: (performance.now() - t0) / 1000,
    };
    return this.loaded;
  }

  /** The adapter "try it", evaluation and inspection use (its tensors are disposed when replaced). */
  setActive(next: { id: string; dispose(): void } | null): void {
    this.active?.dispose();
    this.active = next;
  }

  get activeId(): string | null {
    return this.active?.id ?? null;
  }

  /** Destroys the GPU device as a driver reset would (to test recovery). */
  loseDevice(): void {
    this.backend?.loseDevice();
  }
}

/** What the page shows of a loaded model, from its config and weights. */
function modelFacts(lm: LoadedModel): Omit<ModelInfo, 'ref' | 'embeddingNorm' | 'downloadedBytes' | 'cachedBytes' | 'cacheProblems' | 'loadSeconds'> {
  const c = lm.model.config;
  return {
    origin: lm.origin,
    family: c.family,
    modelType: c.modelType,
    architecture: Array.isArray(lm.rawConfig.architectures) ? String(lm.rawConfig.architectures[0]) : null,
    parameterCount: lm.model.parameterCount,
    hiddenSize: c.hiddenSize,
    numLayers: c.numLayers,
    numHeads: c.numHeads,
    vocabSize: c.vocabSize,
    contextLength: c.contextLength,
    weightBytes: lm.model.weightBytes,
    eosTokenId: lm.eosTokenId,
    padTokenId: lm.padTokenId,
  };
}
