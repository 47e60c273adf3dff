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
    let t0 = performance.now();
    const mixed = await mixedGenerate(lm.model, rows);
    const mixedMs = performance.now() - t0;
    t0 = performance.now();
    const alone: number[][] = [];
    for (const r of rows) alone.push(await generate(lm.model, r.prompt, r.inputIds, options));
    const oneByOneMs = performance.now() - t0;
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
      identical: mixed.every((m, i) => m.length === alone[i].length && m.every((t, j) => t === alone[i][j])),
      tokens: mixed.reduce((n, m) => n + m.length, 0),
    };
  } finally {
    for (const a of applied.values()) a.dispose();
  }
}
