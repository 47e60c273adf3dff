// The Serve tab's command: several adapters' rows (and each input through the base model) decoded
// as one mixed batch, against the same rows run one by one, the way a single-adapter server
// swaps adapters between requests. Both give the same ids (engine/serve/mixed-batch.ts); the
// times show what sharing the forward passes buys.
import { generate, type GenerateOptions } from '../engine/generate.ts';
import { mixedGenerate } from '../engine/serve/mixed-batch.ts';
import type { Adapters } from './adapters.ts';
import type { Applied } from './method-records.ts';
import { EngineError } from './engine-error.ts';
import type { ModelSession } from './model-session.ts';
import type { ServeRequest, ServeResult } from './protocol.ts';

/** Most rows one request may carry (each also runs through the base model). */
export const MAX_SERVE_ROWS = 8;

/** Times each way runs; the faster run of each is shown. */
export const SERVE_TIMING_RUNS = 2;

export async function serveBatch(session: ModelSession, adapters: Adapters, req: ServeRequest): Promise<ServeResult> {
  const lm = session.need();
  if (req.rows.length === 0) throw new EngineError('add at least one row: an input and the adapter to run it with');
  if (req.rows.length > MAX_SERVE_ROWS) throw new EngineError(`at most ${MAX_SERVE_ROWS} rows at once (${req.rows.length} given)`);
  const empty = req.rows.findIndex((r) => !r.input.trim());
  if (empty >= 0) throw new EngineError(`row ${empty + 1} has no input`);
  // Each adapter is applied once, however many rows use it.
  const applied = new Map<string, Applied>();
  try {
    for (const id of new Set(req.rows.flatMap((r) => (r.adapterId ? [r.adapterId] : [])))) applied.set(id, await adapters.apply(id));
    const options: GenerateOptions = { maxNewTokens: req.maxNewTokens, greedy: true, stopTokenIds: [lm.eosTokenId] };
    const ids = req.rows.map((r) => lm.tokenizer.encode(r.input));
    // The adapter rows, then the same inputs through the base model: 2N rows in one batch.
    const rows = [
      ...req.rows.map((r, i) => ({ prompt: r.adapterId ? applied.get(r.adapterId)!.tuned : null, inputIds: ids[i], options })),
      ...ids.map((inputIds) => ({ prompt: null, inputIds, options })),
    ];
    // Each way runs twice, alternating, and the faster run of each is shown: a first run pays for
    // compiling its shapes' kernels, and whichever way ran first would pay more of it (the batch
    // showed 0.7x on the first click before this).
    const mixedRun = () => mixedGenerate(lm.model, rows);
    const aloneRun = async () => {
      const out: number[][] = [];
      for (const r of rows) out.push(await generate(lm.model, r.prompt, r.inputIds, options));
      return out;
    };
    const runs: { mixed: number[][]; alone: number[][] }[] = [];
    let mixedMs = Infinity;
    let oneByOneMs = Infinity;
    for (let k = 0; k < SERVE_TIMING_RUNS; k++) {
      let t0 = performance.now();
      const mixed = await mixedRun();
      mixedMs = Math.min(mixedMs, performance.now() - t0);
      t0 = performance.now();
      const alone = await aloneRun();
      oneByOneMs = Math.min(oneByOneMs, performance.now() - t0);
      runs.push({ mixed, alone });
    }
    const mixed = runs[0].mixed;
    const same = (a: number[], b: number[]) => a.length === b.length && a.every((t, j) => t === b[j]);
    const N = req.rows.length;
    return {
      rows: req.rows.map((r, i) => ({
        adapterId: r.adapterId,
        input: r.input,
        output: lm.tokenizer.decode(mixed[i].filter((t) => t !== lm.eosTokenId)),
        base: lm.tokenizer.decode(mixed[N + i].filter((t) => t !== lm.eosTokenId)),
      })),
      mixedMs,
      oneByOneMs,
      runs: SERVE_TIMING_RUNS,
      identical: runs.every((r) => r.mixed.every((m, i) => same(m, mixed[i]) && same(r.alone[i], mixed[i]))),
      tokens: mixed.reduce((n, m) => n + m.length, 0),
    };
  } finally {
    for (const a of applied.values()) a.dispose();
  }
}
