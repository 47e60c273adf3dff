// Batches concurrent requests into shared forward passes: a job waits at most `windowMs` for
// others to join, then up to `maxBatch` queued jobs run as one batch; the queue is bounded so a
// burst is refused (QueueFullError, HTTP 429) instead of piling up. `mixed` batches any jobs
// together (engine/serve/mixed-batch.ts); `per-adapter` only jobs of one key, which is what a
// server that swaps adapters one at a time can do (the benchmark's baseline).

export type BatchingMode = 'mixed' | 'per-adapter';

export interface SchedulerOptions {
  windowMs: number;
  maxBatch: number;
  maxQueue: number;
  mode: BatchingMode;
}

export class QueueFullError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueueFullError';
  }
}

interface Pending<J, R> {
  job: J;
  key: string;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

export class BatchScheduler<J, R> {
  private queue: Pending<J, R>[] = [];
  private running = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private idle: (() => void)[] = [];
  /** Batches run and their sizes, for the server's stats. */
  readonly batchSizes: number[] = [];

  constructor(
    private readonly runBatch: (jobs: J[]) => Promise<(R | Error)[]>,
    private readonly keyOf: (job: J) => string,
    readonly options: SchedulerOptions,
  ) {}

  get queued(): number {
    return this.queue.length;
  }

  /** Queues the jobs together (all or none) and resolves with their results in order. */
  submit(jobs: J[]): Promise<R>[] {
    if (this.queue.length + jobs.length > this.options.maxQueue) {
      throw new QueueFullError(`server is busy: ${this.queue.length} rows are queued (limit ${this.options.maxQueue}); retry later`);
    }
    const promises = jobs.map((job) => new Promise<R>((resolve, reject) => this.queue.push({ job, key: this.keyOf(job), resolve, reject })));
    this.kick();
    return promises;
  }

  /** Resolves once every queued job has run. */
  drain(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private kick(): void {
    if (this.running || this.timer || this.queue.length === 0) return;
    // A full batch need not wait for the window.
    if (this.queue.length >= this.options.maxBatch) return void this.next();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.next();
    }, this.options.windowMs);
  }

  private take(): Pending<J, R>[] {
    const { maxBatch, mode } = this.options;
    if (mode === 'mixed') return this.queue.splice(0, maxBatch);
    const key = this.queue[0].key;
    const taken: Pending<J, R>[] = [];
    this.queue = this.queue.filter((p) => (p.key === key && taken.length < maxBatch ? (taken.push(p), false) : true));
    return taken;
  }

  private async next(): Promise<void> {
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    const batch = this.take();
    this.batchSizes.push(batch.length);
    try {
      const results = await this.runBatch(batch.map((p) => p.job));
      batch.forEach((p, i) => (results[i] instanceof Error ? p.reject(results[i]) : p.resolve(results[i] as R)));
    } catch (e) {
      for (const p of batch) p.reject(e);
    } finally {
      this.running = false;
    }
    // Jobs that arrived while this batch ran have waited long enough: no second window.
    if (this.queue.length) void this.next();
    else for (const done of this.idle.splice(0)) done();
  }
}
