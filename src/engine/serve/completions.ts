// OpenAI's completions protocol (POST /v1/completions) over mixed-adapter batches: reading and
// checking a request body, running its rows, and the response and error bodies clients expect.
import type { GenerateOptions } from '../generate.ts';
import type { Tuned } from '../prompt/prompted.ts';
import type { TextTokenizer } from '../tokenizer.ts';
import type { MixedGenerateRow } from './mixed-batch.ts';

/** An error with the HTTP status and OpenAI error fields it is answered with. */
export class ServeError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly type = status === 404 ? 'not_found_error' : status === 429 ? 'rate_limit_error' : status >= 500 ? 'server_error' : 'invalid_request_error',
  ) {
    super(message);
    this.name = 'ServeError';
  }
}

export function errorBody(e: ServeError): { error: { message: string; type: string; param: string | null; code: number } } {
  return { error: { message: e.message, type: e.type, param: e.param, code: e.status } };
}

export interface CompletionRequest {
  model: string;
  /** One entry per prompt: text, or token ids. */
  prompts: (string | number[])[];
  maxTokens: number;
  temperature: number;
  topP: number;
  stop: string[];
  seed: number | null;
}

/** The most tokens one request may ask for (a bound on how long a batch can be held). */
export const MAX_TOKENS_LIMIT = 1024;

const isTokens = (v: unknown): v is number[] => Array.isArray(v) && v.length > 0 && v.every((x) => Number.isInteger(x));

/** Reads an OpenAI completions body; every problem is a 400 naming the field. */
export function parseCompletionRequest(body: unknown): CompletionRequest {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new ServeError(400, 'request body must be a JSON object');
  const b = body as Record<string, unknown>;
  if (typeof b.model !== 'string' || !b.model) throw new ServeError(400, '"model" is required: an adapter name or the base model (see GET /v1/models)', 'model');
  let prompts: (string | number[])[];
  if (typeof b.prompt === 'string') prompts = [b.prompt];
  else if (isTokens(b.prompt)) prompts = [b.prompt];
  else if (Array.isArray(b.prompt) && b.prompt.length > 0 && b.prompt.every((p) => typeof p === 'string' || isTokens(p))) prompts = b.prompt as (string | number[])[];
  else throw new ServeError(400, '"prompt" must be a string, a list of strings, or token ids', 'prompt');
  const num = (key: string, fallback: number, ok: (v: number) => boolean, what: string) => {
    const v = b[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new ServeError(400, `"${key}" must be ${what}, got ${JSON.stringify(v)}`, key);
    return v;
  };
  const maxTokens = num('max_tokens', 16, (v) => Number.isInteger(v) && v >= 0 && v <= MAX_TOKENS_LIMIT, `an integer in [0, ${MAX_TOKENS_LIMIT}]`);
  const temperature = num('temperature', 1, (v) => v >= 0 && v <= 2, 'a number in [0, 2]');
  const topP = num('top_p', 1, (v) => v > 0 && v <= 1, 'a number in (0, 1]');
  const seed = b.seed === undefined || b.seed === null ? null : num('seed', 0, (v) => Number.isInteger(v), 'an integer');
  let stop: string[] = [];
  if (typeof b.stop === 'string') stop = [b.stop];
  else if (Array.isArray(b.stop) && b.stop.every((s) => typeof s === 'string')) stop = b.stop as string[];
  else if (b.stop !== undefined && b.stop !== null) throw new ServeError(400, '"stop" must be a string or a list of up to 4 strings', 'stop');
  if (stop.length > 4 || stop.some((s) => s === '')) throw new ServeError(400, '"stop" must be a string or a list of up to 4 non-empty strings', 'stop');
  if (b.stream === true) throw new ServeError(400, '"stream": true is not supported by this server', 'stream');
  if (b.n !== undefined && b.n !== null && b.n !== 1) throw new ServeError(400, '"n" must be 1 (one completion per prompt)', 'n');
  return { model: b.model, prompts, maxTokens, temperature, topP, stop, seed };
}

/** One row to complete: a prompt's ids with the request's sampling settings. */
export interface CompletionRow {
  /** The row's adapter (any method), or null for the base model. */
  prompt: Tuned;
  inputIds: number[];
  maxTokens: number;
  temperature: number;
  topP: number;
  stop: string[];
  seed: number;
}

export interface CompletionResult {
  text: string;
  finishReason: 'stop' | 'length';
  completionTokens: number;
}

/** The text before the first stop string, if one occurs. */
function cutAtStop(text: string, stop: string[]): string | null {
  let cut: number | null = null;
  for (const s of stop) {
    const i = text.indexOf(s);
    if (i >= 0 && (cut === null || i < cut)) cut = i;
  }
  return cut === null ? null : text.slice(0, cut);
}

/** The decoding row of a completion row (temperature 0 is greedy decoding, as in OpenAI's API). */
export function decodeRow(r: CompletionRow, tokenizer: TextTokenizer, eosTokenId: number): MixedGenerateRow {
  const options: GenerateOptions = { maxNewTokens: r.maxTokens, greedy: r.temperature === 0, temperature: r.temperature, topP: r.topP, seed: r.seed, stopTokenIds: [eosTokenId] };
  return { prompt: r.prompt, inputIds: r.inputIds, options, stopWhen: r.stop.length ? (ids) => cutAtStop(tokenizer.decode(ids), r.stop) !== null : undefined };
}

/** The text of the generated ids, cut at the first stop string, and why decoding ended. */
export function completionResult(r: CompletionRow, ids: number[], tokenizer: TextTokenizer, eosTokenId: number): CompletionResult {
  const text = tokenizer.decode(ids);
  const cut = cutAtStop(text, r.stop);
  const stopped = cut !== null || (ids.length > 0 && ids[ids.length - 1] === eosTokenId);
  return { text: cut ?? text, finishReason: stopped ? 'stop' : 'length', completionTokens: ids.length };
}

let counter = 0;

/** OpenAI's text_completion object for one request's results. */
export function completionBody(model: string, results: CompletionResult[], promptTokens: number[]): Record<string, unknown> {
  const completion = results.reduce((a, r) => a + r.completionTokens, 0);
  const prompt = promptTokens.reduce((a, b) => a + b, 0);
  return {
    id: `cmpl-${Date.now().toString(36)}${(counter++).toString(36)}`,
    object: 'text_completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: results.map((r, index) => ({ text: r.text, index, logprobs: null, finish_reason: r.finishReason })),
    usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
  };
}
