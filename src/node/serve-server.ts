// `cli serve`: an OpenAI-style HTTP server (node:http) over one loaded base model and a folder of
// adapters. Requests become rows; the scheduler batches rows of any adapters into shared forward
// passes (engine/serve). Every bad request is answered with a status and a message and the
// server keeps serving; close() stops taking requests and drains the ones in flight.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LoadedModel } from '../engine/load.ts';
import { completionBody, completionResult, decodeRow, errorBody, parseCompletionRequest, ServeError, type CompletionResult, type CompletionRow } from '../engine/serve/completions.ts';
import { DecodeBatch, type MixedGenerateRow } from '../engine/serve/mixed-batch.ts';
import { METHODS } from '../engine/methods/index.ts';
import { BatchScheduler, QueueFullError, type SchedulerOptions, type StepRunner } from '../engine/serve/scheduler.ts';
import { AdapterRegistry, loadedRevision } from './adapter-registry.ts';

export interface ServeOptions {
  lm: LoadedModel;
  adaptersDir: string;
  host: string;
  port: number;
  allowDrift: boolean;
  scheduler: SchedulerOptions;
  log?: (line: string) => void;
}

export interface RunningServer {
  url: string;
  /** Stops taking requests, answers every queued one, then closes. */
  close(): Promise<void>;
  registry: AdapterRegistry;
}

/** Largest request body read (a completion request is small). */
const MAX_BODY = 1 << 20;

interface RowJob extends Omit<CompletionRow, 'prompt'> {
  /** Adapter name, or null for the base model. */
  adapter: string | null;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new ServeError(413, `request body over ${MAX_BODY} bytes`));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startServe(o: ServeOptions): Promise<RunningServer> {
  const { lm } = o;
  const log = o.log ?? (() => {});
  const registry = new AdapterRegistry(o.adaptersDir, lm, o.allowDrift);
  registry.refresh();
  const baseName = lm.origin.id;
  const { contextLength } = lm.model.config;

  // Prompts are looked up when a row joins the batch, so a replaced adapter serves its new
  // version; the batch reads them until the row's first pass (see AdapterRegistry.refresh).
  const batch = new DecodeBatch(lm.model);
  const byRow = new Map<MixedGenerateRow, { job: RowJob; row: CompletionRow }>();
  const runner: StepRunner<RowJob, CompletionResult> = {
    get size() {
      return batch.size;
    },
    add(jobs) {
      const rows = jobs.map((j): CompletionRow | Error => {
        if (j.adapter === null) return { ...j, prompt: null };
        const a = registry.get(j.adapter);
        if (!a) return new ServeError(404, `adapter "${j.adapter}" was removed from ${o.adaptersDir}`);
        if (!('tuned' in a)) return new ServeError(400, `adapter "${j.adapter}" cannot be served: ${a.reason}`, 'model');
        if (a.contextTokens + j.inputIds.length > contextLength - 1) return new ServeError(400, `adapter "${j.adapter}" changed and the prompt no longer fits the context`, 'prompt');
        return { ...j, prompt: a.tuned };
      });
      const joining: MixedGenerateRow[] = [];
      rows.forEach((row, i) => {
        if (row instanceof Error) return;
        const d = decodeRow(row, lm.tokenizer, lm.eosTokenId);
        byRow.set(d, { job: jobs[i], row });
        joining.push(d);
      });
      try {
        batch.add(joining);
      } catch (e) {
        for (const d of joining) byRow.delete(d);
        throw e;
      }
      return rows.map((r) => (r instanceof Error ? r : null));
    },
    async step() {
      const done = (await batch.step()).map(({ row, ids }) => {
        const { job, row: r } = byRow.get(row)!;
        byRow.delete(row);
        return { job, result: completionResult(r, ids, lm.tokenizer, lm.eosTokenId) };
      });
      // Replaced adapters' tensors go once no row decodes with them (LoRA factors are read every step).
      if (batch.size === 0) registry.collect();
      return done;
    },
    reset() {
      batch.dispose();
      byRow.clear();
    },
  };
  const scheduler = new BatchScheduler<RowJob, CompletionResult>(runner, (j) => j.adapter ?? '', o.scheduler);
  let draining = false;
  let served = 0;

  const models = () => {
    registry.refresh();
    const created = Math.floor(Date.now() / 1000);
    const base = { id: baseName, object: 'model', created, owned_by: 'local', method: null, base_model: baseName, revision: loadedRevision(lm), num_virtual_tokens: 0 };
    return {
      object: 'list',
      data: [
        base,
        ...registry.ready().map((a) => ({
          id: a.name,
          object: 'model',
          created,
          owned_by: 'local',
          method: METHODS[a.adapter.config.method].peftType,
          base_model: a.adapter.meta.baseModel,
          revision: a.adapter.meta.revision,
          num_virtual_tokens: 'numVirtualTokens' in a.adapter.config ? a.adapter.config.numVirtualTokens : 0,
          ...(a.adapter.config.method === 'lora' ? { r: a.adapter.config.r } : {}),
          ...(a.warnings.length ? { warnings: a.warnings } : {}),
        })),
      ],
      refused: registry.refused().map((r) => ({ id: r.name, reason: r.reason })),
    };
  };

  const complete = async (req: IncomingMessage): Promise<Record<string, unknown>> => {
    const text = await readBody(req);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new ServeError(400, `request body is not valid JSON (${(e as Error).message})`);
    }
    const r = parseCompletionRequest(json);
    registry.refresh();
    let adapter: string | null = null;
    let V = 0;
    if (r.model !== baseName) {
      const a = registry.get(r.model);
      const known = [baseName, ...registry.ready().map((x) => x.name)];
      if (!a) throw new ServeError(404, `model "${r.model}" not found: no adapter folder of that name in ${o.adaptersDir} (models: ${known.join(', ')})`, 'model');
      if (!('tuned' in a)) throw new ServeError(400, `adapter "${r.model}" cannot be served: ${a.reason}`, 'model');
      adapter = a.name;
      V = a.contextTokens;
    }
    const ids = r.prompts.map((p, i) => {
      const t = typeof p === 'string' ? lm.tokenizer.encode(p) : p;
      const bad = t.find((id) => id < 0 || id >= lm.model.config.vocabSize);
      if (bad !== undefined) throw new ServeError(400, `prompt ${i}: token id ${bad} is not in [0, ${lm.model.config.vocabSize})`, 'prompt');
      if (V + t.length === 0) throw new ServeError(400, `prompt ${i} is empty (the base model needs at least one token)`, 'prompt');
      if (V + t.length >= contextLength) throw new ServeError(400, `prompt ${i}: ${t.length} tokens + ${V} virtual leave no room in the model's ${contextLength}-token context`, 'prompt');
      return t;
    });
    // More rows than the queue holds could never be queued: a 429 would have the client retry forever.
    const { maxQueue } = scheduler.options;
    if (ids.length > maxQueue)
      throw new ServeError(400, `"prompt" has ${ids.length} prompts; this server queues at most ${maxQueue} rows (--max-queue), so send at most ${maxQueue} per request`, 'prompt');
    const seed = r.seed ?? Math.floor(Math.random() * 2 ** 31);
    const jobs: RowJob[] = ids.map((inputIds, i) => ({ adapter, inputIds, maxTokens: r.maxTokens, temperature: r.temperature, topP: r.topP, stop: r.stop, seed: seed + i }));
    let promises: Promise<CompletionResult>[];
    try {
      promises = scheduler.submit(jobs);
    } catch (e) {
      if (e instanceof QueueFullError) throw new ServeError(429, e.message);
      throw e;
    }
    const results = await Promise.all(promises);
    served++;
    return completionBody(
      r.model,
      results,
      ids.map((t) => t.length),
    );
  };

  // Responses not yet written; close() waits for them before dropping connections.
  const inflight = new Set<ServerResponse>();
  let allWritten: (() => void) | null = null;
  const server = createServer((req, res) => {
    inflight.add(res);
    res.on('close', () => {
      inflight.delete(res);
      if (inflight.size === 0) allWritten?.();
    });
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = `${req.method} ${url.pathname.replace(/\/+$/, '')}`;
    const fail = (e: unknown) => {
      const err = e instanceof ServeError ? e : new ServeError(500, `internal error: ${(e as Error).message ?? String(e)}`);
      if (err.status >= 500) log(`error: ${(e as Error).stack ?? e}`);
      if (!res.headersSent) send(res, err.status, errorBody(err));
    };
    if (draining) return fail(new ServeError(503, 'server is shutting down'));
    try {
      if (route === 'GET /v1/models') return send(res, 200, models());
      if (route === 'GET /v1/stats') {
        const { steps, rowSteps, maxRows } = scheduler;
        const cpu = process.cpuUsage();
        return send(res, 200, {
          requests: served,
          cpu_seconds: (cpu.user + cpu.system) / 1e6,
          steps,
          row_steps: rowSteps,
          mean_rows_per_step: steps ? rowSteps / steps : 0,
          max_rows: maxRows,
          queued: scheduler.queued,
          mode: o.scheduler.mode,
        });
      }
      if (route === 'POST /v1/completions') return void complete(req).then((body) => send(res, 200, body), fail);
      if (['/v1/models', '/v1/completions', '/v1/stats'].includes(url.pathname)) return fail(new ServeError(405, `${req.method} is not allowed on ${url.pathname}`));
      return fail(new ServeError(404, `no route ${req.method} ${url.pathname} (routes: GET /v1/models, POST /v1/completions, GET /v1/stats)`));
    } catch (e) {
      fail(e);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}`,
    registry,
    async close() {
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await scheduler.drain();
      if (inflight.size) await new Promise<void>((resolve) => (allWritten = resolve));
      server.closeAllConnections();
      await closed;
      batch.dispose();
      registry.dispose();
    },
  };
}
