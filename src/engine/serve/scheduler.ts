// Continuous batching of concurrent requests: queued rows join the running decode batch between
// steps (up to `maxBatch` rows), finished rows leave it at once, so a request never waits for
// another one's tokens. A request arriving at an idle server waits up to `windowMs` (from its
// arrival) for others to share its prefill. The queue is bounded: a burst beyond `maxQueue` rows is refused
// (QueueFullError, HTTP 429) instead of piling up. `mixed` lets rows of any adapters share the
// batch (engine/serve/mixed-batch.ts); `per-adapter` only rows of one adapter at a time, which is
// what a server that swaps adapters can do (the benchmark's baseline).

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

/** What the scheduler drives: a batch that jobs join and leave (DecodeBatch, behind the server's job mapping). */
export interface StepRunner<J, R> {
  /** Starts the jobs (their prefill); returns an Error for each job that cannot start, else null. */
  add(jobs: J[]): (Error | null)[];
  /** One decoding step for every running job; returns the jobs that finished with their results. */
  step(): Promise<{ job: J; result: R }[]>;
  /** Drops every running job (after a failed step). */
  reset(): void;
  readonly size: number;
}

/**
 * Lets the host's I/O callbacks run. On the WASM and CPU backends reading a tensor resolves in a
 * microtask, so without this a busy batch would never let new requests in between its steps.
 */
const yieldToEvents = (): Promise<void> => new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));

interface Pending<J, R> {
  job: J;
  key: string;
  /** performance.now() when it was queued. */
  at: number;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

export class BatchScheduler<J, R> {
  private queue: Pending<J, R>[] = [];
  private running = new Map<J, Pending<J, R>>();
  private looping = false;
  /** Set by drain(): the batching window no longer holds queued jobs back; wake ends a window being waited out. */
  private draining = false;
  private wake: (() => void) | null = null;
  private idle: (() => void)[] = [];
  /** Decoding steps run and the rows in them, for the server's stats. */
  steps = 0;
  rowSteps = 0;
  maxRows = 0;

  constructor(
    private readonly runner: StepRunner<J, R>,
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
    const at = performance.now();
    const promises = jobs.map((job) => new Promise<R>((resolve, reject) => this.queue.push({ job, key: this.keyOf(job), at, resolve, reject })));
    if (!this.looping) void this.loop();
    return promises;
  }

  /** Resolves once every queued and running job has finished; queued jobs stop waiting for company. */
  drain(): Promise<void> {
    this.draining = true;
    this.wake?.();
    if (!this.looping) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Queued jobs that may join now: any (mixed), or those of the running adapter (per-adapter). */
  private admit(): Pending<J, R>[] {
    const room = this.options.maxBatch - this.runner.size;
    if (room <= 0 || this.queue.length === 0) return [];
    if (this.options.mode === 'mixed') return this.queue.splice(0, room);
    const key = this.running.size ? [...this.running.values()][0].key : this.queue[0].key;
    const taken: Pending<J, R>[] = [];
    this.queue = this.queue.filter((p) => (p.key === key && taken.length < room ? (taken.push(p), false) : true));
    return taken;
  }

  private async loop(): Promise<void> {
    this.looping = true;
    try {
      while (this.queue.length || this.runner.size) {
        await yieldToEvents();
        // The window counts from the oldest queued request's arrival: rows that queued while a
        // batch ran have waited already, and sleeping again would only idle the server (with
        // per-adapter batching, a full window between every two adapters).
        const wait = this.queue.length ? this.queue[0].at + this.options.windowMs - performance.now() : 0;
        if (this.runner.size === 0 && this.queue.length < this.options.maxBatch && wait > 0 && !this.draining) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, wait);
            this.wake = () => (clearTimeout(timer), resolve());
          });
          this.wake = null;
        }
        const joining = this.admit();
        if (joining.length) {
          let errors: (Error | null)[];
          try {
            errors = this.runner.add(joining.map((p) => p.job));
          } catch (e) {
            errors = joining.map(() => e as Error);
          }
          joining.forEach((p, i) => (errors[i] ? p.reject(errors[i]) : this.running.set(p.job, p)));
        }
        if (!this.runner.size) continue;
        this.steps++;
        this.rowSteps += this.runner.size;
        this.maxRows = Math.max(this.maxRows, this.runner.size);
        let finished: { job: J; result: R }[];
        try {
          finished = await this.runner.step();
        } catch (e) {
          // A failed step loses the batch: its jobs get the error, the queue carries on.
          for (const p of this.running.values()) p.reject(e);
          this.running.clear();
          this.runner.reset();
          continue;
        }
        for (const { job, result } of finished) {
          this.running.get(job)?.resolve(result);
          this.running.delete(job);
        }
      }
    } finally {
      this.looping = false;
      for (const done of this.idle.splice(0)) done();
    }
  }
}
