// The tab's evaluation suites and adapter versions: each task (a dataset's name) pins one suite
// (uploaded, or cut from a run's held-out rows); every adapter trained for the task is a version,
// scored on the suite when its run ends and on demand. The scoring and the table are the engine's
// (src/engine/run/suite.ts), the same the CLI's `eval --suite` prints.
import { baseRevision } from '../engine/adapter/adapter.ts';
import { detectColumns, toExamples, type ColumnMapping } from '../engine/data/examples.ts';
import { DataError, parseDataset } from '../engine/data/parse.ts';
import { splitRows } from '../engine/run/evaluate.ts';
import { DEFAULT_SUITE_ROWS, makeSuite, parseSuite, pickSuiteRows, serializeSuite, suiteLabels, SUITE_FORMAT, versionRows, type Suite, type SuiteScore } from '../engine/run/suite.ts';
import { scoreSuite } from '../engine/run/evaluate.ts';
import * as store from '../store/db.ts';
import type { AdapterRecord, RunRecord } from '../store/records.ts';
import type { Adapters } from './adapters.ts';
import { EngineError } from './engine-error.ts';
import type { ModelSession } from './model-session.ts';
import type { EngineEvent, PinSuiteRequest, SuiteInfo, TaskVersions } from './protocol.ts';

const infoOf = (s: Suite): SuiteInfo => ({ task: s.task, source: s.source, createdAt: s.createdAt, hash: s.hash, rows: s.examples.length, labels: suiteLabels(s) });

/** The suite a run's held-out rows make: its test rows when the data has them, else its validation rows. */
async function suiteFromRun(run: RunRecord, limit: number): Promise<Suite> {
  const dataset = await store.getDataset(run.spec.data.datasetId);
  if (!dataset) throw new EngineError(`the data of run "${run.spec.label}" is no longer in this browser's storage`);
  const part = splitRows(run.split, { hash: dataset.id, rows: dataset.rows, testRows: dataset.testRows }, run.spec.data.mapping, run.spec.data.name);
  if (part.examples.length === 0) throw new EngineError(`run "${run.spec.label}" held out no rows to make a suite of (give it a validation split or test rows, or upload a suite)`);
  const examples = pickSuiteRows(part.examples, limit);
  const of = examples.length < part.examples.length ? `${examples.length} of the ` : '';
  return makeSuite(run.spec.data.name, examples, `${of}${part.examples.length} ${part.part} rows held out by run "${run.spec.label}"`);
}

/**
 * Whether an upload is a suite file rather than a table of rows: it names the suite format, or it is
 * one JSON object with a suite's "format" or "examples" field (then parseSuite says what is wrong
 * with it, instead of the rows reader failing on its first line).
 */
function isSuiteFile(text: string): boolean {
  if (!text.trimStart().startsWith('{')) return false;
  if (text.includes(SUITE_FORMAT)) return true;
  try {
    const o: unknown = JSON.parse(text);
    return typeof o === 'object' && o !== null && ('format' in o || 'examples' in o);
  } catch {
    return false;
  }
}

/** The column mapping the task's latest label run used (an uploaded table of rows is read the same way). */
async function taskMapping(task: string): Promise<ColumnMapping | null> {
  const run = (await store.listRuns()).find((r) => r.spec.data.name === task && r.spec.data.mapping.kind === 'label');
  return run?.spec.data.mapping ?? null;
}

export class Suites {
  constructor(
    private readonly session: ModelSession,
    private readonly adapters: Adapters,
    private readonly emit: (e: EngineEvent) => void,
  ) {}

  async list(): Promise<SuiteInfo[]> {
    return (await store.listSuites()).map(infoOf);
  }

  /**
   * Pins a task's suite, replacing the one it had: a run's held-out rows, a suite file (as the
   * panel or the CLI wrote it), or a JSONL/CSV table of labelled rows read with the task's template.
   */
  async pin(req: PinSuiteRequest): Promise<SuiteInfo> {
    let suite: Suite;
    if (req.from.kind === 'run') {
      const run = await store.getRun(req.from.runId);
      if (!run) throw new EngineError(`run ${req.from.runId} is not in this browser's storage any more`);
      suite = await suiteFromRun(run, req.from.limit ?? DEFAULT_SUITE_ROWS);
    } else {
      const { name, text } = req.from;
      if (isSuiteFile(text)) {
        suite = await parseSuite(text, name);
      } else {
        const rows = parseDataset(text, name);
        // The task's own columns and template when the rows have them, else the naming rule's.
        const own = await taskMapping(req.task);
        const mapping = own && [own.input, own.target].every((c) => c in rows[0]) ? own : detectColumns(rows, name);
        if (mapping.kind !== 'label') throw new DataError(`${name}: a suite scores labels, so its rows need text and label columns (found ${Object.keys(rows[0] ?? {}).join(', ')})`);
        suite = await makeSuite(req.task, toExamples(rows, mapping, name), `${rows.length} rows uploaded from ${name}`);
      }
    }
    suite = { ...suite, task: req.task };
    await store.putSuite(suite);
    return infoOf(suite);
  }

  async unpin(task: string): Promise<void> {
    await store.deleteSuite(task);
  }

  /** The suite file, to keep beside the adapters or give to the CLI's `eval --suite`. */
  async file(task: string): Promise<{ fileName: string; text: string }> {
    const suite = await this.need(task);
    return { fileName: `${task.replace(/[^\w.-]+/g, '_')}.suite.json`, text: serializeSuite(suite) };
  }

  private async need(task: string): Promise<Suite> {
    const suite = await store.getSuite(task);
    if (!suite) throw new EngineError(`task "${task}" has no pinned suite: pin one from a run's held-out rows or upload one`);
    return suite;
  }

  /** Scores one adapter on its task's suite and keeps the score with it. */
  async evaluate(adapterId: string): Promise<SuiteScore> {
    const record = await this.adapters.get(adapterId);
    if (!record.task) throw new EngineError(`adapter "${record.name}" belongs to no task: choose its task first`);
    return this.score(record, await this.need(record.task));
  }

  private async score(record: AdapterRecord, suite: Suite): Promise<SuiteScore> {
    const applied = await this.adapters.apply(record.id);
    try {
      const score = await scoreSuite(this.session.need(), applied.tuned, suite, (done, total) =>
        this.emit({ type: 'task-progress', task: `Scoring ${record.name} on the ${suite.task} suite`, done, total }),
      );
      await this.adapters.setSuiteScore(record.id, score);
      return score;
    } finally {
      applied.dispose();
    }
  }

  /**
   * At the end of a run of a label task: pins the suite from the run's held-out rows when the task
   * has none yet, then scores the new version on it. Returns what to add to the run's message.
   */
  async afterRun(adapter: AdapterRecord, run: RunRecord): Promise<string> {
    if (run.spec.data.mapping.kind !== 'label' || !adapter.task) return '';
    let suite = await store.getSuite(adapter.task);
    if (!suite) {
      suite = await suiteFromRun(run, DEFAULT_SUITE_ROWS).catch(() => undefined);
      if (!suite) return '';
      await store.putSuite(suite);
    }
    const score = await this.score(adapter, suite);
    const versions = await this.versions(adapter.task);
    const row = versions.rows.find((r) => r.id === adapter.id);
    const change = row?.delta != null ? ` (${row.delta >= 0 ? '+' : ''}${row.delta.toFixed(1)} pt${row.dropped ? ', a drop' : ''})` : '';
    return `; v${row?.version ?? '?'} of ${adapter.task}: ${(score.accuracy * 100).toFixed(1)}% on its ${suite.examples.length}-row suite${change}`;
  }

  /** A task's versions, oldest first, with accuracy, per label, the change from the one before and the flags. */
  async versions(task: string): Promise<TaskVersions> {
    const suite = await store.getSuite(task);
    const loadedRevision = this.session.info ? baseRevision(this.session.info.origin) : null;
    const adapters = (await this.adapters.list()).filter((a) => a.task === task);
    const rows = suite
      ? versionRows(
          adapters.map((a) => ({ id: a.id, name: a.name, createdAt: a.createdAt, score: a.metrics.suite ?? null, revision: baseRevision(a.model) })),
          suite,
          loadedRevision,
        )
      : [];
    return { task, suite: suite ? infoOf(suite) : null, rows, loadedRevision, unscored: suite ? 0 : adapters.length };
  }
}
