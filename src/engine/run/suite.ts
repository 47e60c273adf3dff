// Evaluation suites and adapter versions. A task pins a small curated set of labelled examples
// (uploaded, or taken from a run's held-out rows) and every adapter trained for the task is scored
// on exactly those rows, so versions compare like for like: the tutorial's "run a curated set of
// 30-50 test examples against every new adapter version before deploying". The page's Adapters
// panel and the CLI's `eval --suite` both build their table from versionRows, so they agree.
// No tfjs here (the page reads the constants and types); scoreSuite, which runs the model, is in evaluate.ts.
import { datasetHash } from '../data/hash.ts';
import { DataError } from '../data/parse.ts';
import type { Example } from '../data/examples.ts';
import type { LabelScore } from '../evaluate.ts';

/** The `format` field every suite file carries. */
export const SUITE_FORMAT = 'prompt-tuning-playground/suite';
/** Rows a suite takes from a run's held-out rows unless told otherwise (the tutorial's 30-50). */
export const DEFAULT_SUITE_ROWS = 40;
/** A version whose accuracy falls by more than this many points from the previous one is flagged. */
export const DROP_POINTS = 2;

export interface Suite {
  format: typeof SUITE_FORMAT;
  /** The task the suite guards (the dataset's name in the page). */
  task: string;
  /** Where the rows came from, in words. */
  source: string;
  createdAt: number;
  /** Content hash of the rows: a score names the suite it was measured on. */
  hash: string;
  examples: Example[];
}

export interface SuiteScore {
  suiteHash: string;
  accuracy: number;
  perLabel: Record<string, LabelScore>;
  loss: number;
  count: number;
  at: number;
}

/**
 * Up to `limit` examples, taken round-robin over the labels in their order of appearance, so a
 * suite cut from a skewed split still scores every label (a plain head would miss rare ones).
 */
export function pickSuiteRows(examples: Example[], limit = DEFAULT_SUITE_ROWS): Example[] {
  const byLabel = new Map<string, Example[]>();
  for (const e of examples) {
    const k = e.target.trim();
    byLabel.set(k, [...(byLabel.get(k) ?? []), e]);
  }
  const queues = [...byLabel.values()];
  const out: Example[] = [];
  for (let i = 0; out.length < Math.min(limit, examples.length); i++) for (const q of queues) if (i < q.length && out.length < limit) out.push(q[i]);
  return out;
}

export async function makeSuite(task: string, examples: Example[], source: string, createdAt = Date.now()): Promise<Suite> {
  if (!task.trim()) throw new DataError('a suite needs the name of the task it guards');
  if (examples.length === 0) throw new DataError(`the suite for ${task} has no rows (${source})`);
  return { format: SUITE_FORMAT, task, source, createdAt, hash: await suiteHash(examples), examples };
}

function suiteHash(examples: Example[]): Promise<string> {
  return datasetHash(
    examples.map((e) => ({ input: e.input, target: e.target })),
    null,
  );
}

export function serializeSuite(s: Suite): string {
  return JSON.stringify(s, null, 1) + '\n';
}

/** Reads a suite file, checking every field and that the rows still match the hash they were pinned with. */
export async function parseSuite(text: string, file: string): Promise<Suite> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new DataError(`${file}: not JSON (${(e as Error).message})`);
  }
  const o = json as Record<string, unknown>;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new DataError(`${file}: a suite file is a JSON object`);
  if (o.format !== SUITE_FORMAT)
    throw new DataError(`${file}: "format" must be "${SUITE_FORMAT}" (got ${JSON.stringify(o.format)}); download a suite from the Adapters panel or write one in that form`);
  for (const k of ['task', 'source', 'hash'] as const) if (typeof o[k] !== 'string') throw new DataError(`${file}: "${k}" must be a string`);
  if (typeof o.createdAt !== 'number') throw new DataError(`${file}: "createdAt" must be a number (ms since 1970)`);
  if (!Array.isArray(o.examples) || o.examples.length === 0) throw new DataError(`${file}: "examples" must be a non-empty list of {"input", "target"}`);
  const examples = o.examples.map((e: unknown, i: number) => {
    const r = e as Record<string, unknown>;
    if (typeof r?.input !== 'string' || typeof r?.target !== 'string') throw new DataError(`${file}: examples[${i}] needs string "input" and "target"`);
    return { input: r.input, target: r.target };
  });
  const hash = await suiteHash(examples);
  if (hash !== o.hash) throw new DataError(`${file}: its rows do not match its "hash" (${o.hash}; the rows hash to ${hash}): the file was edited after it was pinned`);
  return { format: SUITE_FORMAT, task: o.task as string, source: o.source as string, createdAt: o.createdAt, hash, examples };
}

/** One adapter of a task, as the versions table needs it. */
export interface VersionInput {
  /** The record's id (page) or folder (CLI). */
  id: string;
  name: string;
  createdAt: number;
  /** Its score on the suite, if measured. */
  score: SuiteScore | null;
  /** The base model revision it was trained on, as baseRevision gives it (null: unrecorded). */
  revision: string | null;
}

export interface VersionRow {
  /** 1 for the task's first adapter, in order of creation. */
  version: number;
  id: string;
  name: string;
  /** null: not scored on this suite (never, or on an earlier suite). */
  accuracy: number | null;
  perLabel: Record<string, LabelScore> | null;
  /** Points of accuracy against the last earlier version scored on this suite. */
  delta: number | null;
  /** Fell more than DROP_POINTS points. */
  dropped: boolean;
  /** Trained on another base revision than the loaded one. */
  drift: boolean;
  /** Scored, but on another suite than the pinned one (evaluate again to compare). */
  stale: boolean;
  revision: string | null;
}

/**
 * The one drift rule (the adapter loaders' and the server's): a version drifted when it and the
 * loaded model both name the base revision they were read at and the two differ; where either is
 * unknown (a local folder, a PEFT config without a revision) nothing is claimed.
 */
export function revisionDrift(version: string | null, loaded: string | null): boolean {
  return version !== null && loaded !== null && version !== loaded;
}

/** The versions of a task, oldest first, with each one's change from the one before and its flags. */
export function versionRows(adapters: VersionInput[], suite: Pick<Suite, 'hash'>, loadedRevision: string | null): VersionRow[] {
  const sorted = [...adapters].sort((a, b) => a.createdAt - b.createdAt);
  let previous: number | null = null;
  return sorted.map((a, i) => {
    const current = a.score && a.score.suiteHash === suite.hash ? a.score : null;
    const accuracy = current ? current.accuracy : null;
    const delta = accuracy !== null && previous !== null ? (accuracy - previous) * 100 : null;
    if (accuracy !== null) previous = accuracy;
    return {
      version: i + 1,
      id: a.id,
      name: a.name,
      accuracy,
      perLabel: current?.perLabel ?? null,
      delta,
      // The tolerance keeps a fall of exactly DROP_POINTS (24/50 after 25/50: -2.0000000000000018 in floating point) from counting as a drop.
      dropped: delta !== null && delta < -DROP_POINTS - 1e-9,
      drift: revisionDrift(a.revision, loadedRevision),
      stale: a.score !== null && current === null,
      revision: a.revision,
    };
  });
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** The labels a table shows, in the suite's order. */
export function suiteLabels(suite: Pick<Suite, 'examples'>): string[] {
  return [...new Set(suite.examples.map((e) => e.target.trim()))];
}

/** The versions table as text (the CLI prints it; the page shows the same columns). */
export function formatVersionTable(rows: VersionRow[], labels: string[], loadedRevision: string | null): string {
  const head = ['version', 'adapter', 'accuracy', 'change', ...labels.map((l) => `"${l}"`), 'flags'];
  const body = rows.map((r) => [
    `v${r.version}`,
    r.name,
    r.accuracy === null ? (r.stale ? 'stale' : '-') : pct(r.accuracy),
    r.delta === null ? '' : `${r.delta >= 0 ? '+' : ''}${r.delta.toFixed(1)} pt`,
    ...labels.map((l) => {
      const s = r.perLabel?.[l];
      return s ? `${pct(s.accuracy)} (${s.correct}/${s.total})` : '';
    }),
    [r.dropped ? `DROP >${DROP_POINTS} pt` : '', r.drift ? `base revision ${r.revision} != loaded ${loadedRevision}` : ''].filter(Boolean).join('; '),
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...body.map((b) => b[c].length)));
  const line = (cells: string[]) =>
    cells
      .map((x, c) => x.padEnd(widths[c]))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}
