// Evaluation suites and adapter versions (src/engine/run/suite.ts): picking a suite's rows, the
// suite file and its checks, the versions table's change, drop, drift and stale flags, and scoring
// a real (tiny) model on a suite, against evaluateLabels and evaluateLoss counted independently.
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sequentialBatches } from '../src/engine/data/batches.ts';
import { encodeExample } from '../src/engine/data/encode.ts';
import type { Example } from '../src/engine/data/examples.ts';
import { normalizeLabel } from '../src/engine/data/labels.ts';
import { DataError } from '../src/engine/data/parse.ts';
import { exampleBudget } from '../src/engine/data/training-set.ts';
import { evaluateLabels, evaluateLoss } from '../src/engine/evaluate.ts';
import { loadModel, type LoadedModel } from '../src/engine/load.ts';
import { initSoftPrompt } from '../src/engine/prompt/init.ts';
import type { Tuned } from '../src/engine/prompt/prompted.ts';
import {
  DEFAULT_SUITE_ROWS,
  DROP_POINTS,
  formatVersionTable,
  makeSuite,
  parseSuite,
  pickSuiteRows,
  revisionDrift,
  serializeSuite,
  SUITE_FORMAT,
  suiteLabels,
  versionRows,
  type SuiteScore,
  type VersionInput,
} from '../src/engine/run/suite.ts';
import { scoreSuite } from '../src/engine/run/evaluate.ts';
import { initNodeBackend } from '../src/node/backend.ts';
import { FolderSource } from '../src/node/folder-source.ts';
import { LOCAL_FIXTURES } from './support/fixtures.ts';

const ex = (input: string, target: string): Example => ({ input, target });

/** A score on suite `hash` of `correct` of `total` rows. */
const score = (hash: string, correct: number, total: number): SuiteScore => ({
  suiteHash: hash,
  accuracy: correct / total,
  perLabel: { a: { correct, total, accuracy: correct / total } },
  loss: 1,
  count: total,
  at: 0,
});

const version = (id: string, createdAt: number, s: SuiteScore | null, revision: string | null = null): VersionInput => ({ id, name: `adapter ${id}`, createdAt, score: s, revision });

/** Parses, expecting a DataError, and returns its message. */
async function parseError(text: string, file = 'complaints.suite.json'): Promise<string> {
  const e = await parseSuite(text, file).then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DataError);
  return (e as Error).message;
}

describe('pickSuiteRows', () => {
  it('takes rows round-robin over the labels in order of appearance, so a rare label is kept', () => {
    const rows = [ex('a1', 'yes'), ex('a2', 'yes'), ex('a3', 'yes'), ex('b1', ' no '), ex('a4', 'yes'), ex('c1', 'maybe'), ex('b2', 'no')];
    expect(pickSuiteRows(rows, 5).map((e) => e.input)).toEqual(['a1', 'b1', 'c1', 'a2', 'b2']);
    // A plain head of 3 would have no "no" or "maybe".
    expect(pickSuiteRows(rows, 3).map((e) => e.input)).toEqual(['a1', 'b1', 'c1']);
    // Labels are grouped by their trimmed text (" no " and "no" are one label).
    expect(pickSuiteRows(rows, 4).map((e) => e.input)).toEqual(['a1', 'b1', 'c1', 'a2']);
  });

  it('keeps every row, in round-robin order, when the limit exceeds them; the default is 40', () => {
    const rows = [ex('a1', 'x'), ex('a2', 'x'), ex('b1', 'y')];
    expect(pickSuiteRows(rows, 100).map((e) => e.input)).toEqual(['a1', 'b1', 'a2']);
    expect(DEFAULT_SUITE_ROWS).toBe(40);
    const many = Array.from({ length: 90 }, (_, i) => ex(`r${i}`, i % 3 ? 'x' : 'y'));
    const picked = pickSuiteRows(many);
    expect(picked).toHaveLength(40);
    expect(picked.filter((e) => e.target === 'y')).toHaveLength(20);
    expect(pickSuiteRows([], 5)).toEqual([]);
  });
});

describe('suite files', () => {
  const rows = [ex('Tweet text : late again Label : ', 'complaint'), ex('Tweet text : thanks Label : ', 'no complaint'), ex('Tweet text : lost it Label : ', 'complaint')];

  it('round-trips through serializeSuite and parseSuite', async () => {
    const s = await makeSuite('complaints', rows, '3 rows by hand', 1234);
    expect(s).toMatchObject({ format: SUITE_FORMAT, task: 'complaints', source: '3 rows by hand', createdAt: 1234 });
    expect(s.hash).toMatch(/^[0-9a-f]{32}$/);
    const text = serializeSuite(s);
    expect(text.endsWith('\n')).toBe(true);
    expect(await parseSuite(text, 'x.suite.json')).toEqual(s);
    expect(suiteLabels(s)).toEqual(['complaint', 'no complaint']);
  });

  it('hashes only the rows (input and target), in order', async () => {
    const a = await makeSuite('t', rows, 'one', 1);
    const b = await makeSuite('other task', rows, 'two', 2);
    expect(b.hash).toBe(a.hash);
    const reordered = await makeSuite('t', [rows[1], rows[0], rows[2]], 'one', 1);
    expect(reordered.hash).not.toBe(a.hash);
    const relabelled = await makeSuite('t', [rows[0], rows[1], { ...rows[2], target: 'no complaint' }], 'one', 1);
    expect(relabelled.hash).not.toBe(a.hash);
  });

  it('refuses a suite with no task or no rows', async () => {
    await expect(makeSuite('  ', rows, 'src')).rejects.toThrow(/needs the name of the task/);
    await expect(makeSuite('complaints', [], 'the validation rows of run "r"')).rejects.toThrow('the suite for complaints has no rows (the validation rows of run "r")');
  });

  it('names the file and the field that is wrong', async () => {
    const good = JSON.parse(serializeSuite(await makeSuite('complaints', rows, 'src', 5)));
    const text = (o: unknown) => JSON.stringify(o);
    expect(await parseError('{"format": ', 'my.suite.json')).toMatch(/^my\.suite\.json: not JSON \(/);
    expect(await parseError('[1, 2]')).toBe('complaints.suite.json: a suite file is a JSON object');
    expect(await parseError('null')).toBe('complaints.suite.json: a suite file is a JSON object');
    const format = await parseError(text({ ...good, format: 'peft/suite' }));
    expect(format).toMatch(/^complaints\.suite\.json: "format" must be "prompt-tuning-playground\/suite" \(got "peft\/suite"\)/);
    expect(await parseError(text({ ...good, format: undefined }))).toContain('(got undefined)');
    for (const k of ['task', 'source', 'hash']) expect(await parseError(text({ ...good, [k]: 3 }))).toBe(`complaints.suite.json: "${k}" must be a string`);
    expect(await parseError(text({ ...good, createdAt: '2026-12-02' }))).toBe('complaints.suite.json: "createdAt" must be a number (ms since 1970)');
    expect(await parseError(text({ ...good, examples: [] }))).toMatch(/^complaints\.suite\.json: "examples" must be a non-empty list/);
    expect(await parseError(text({ ...good, examples: { input: 'x', target: 'y' } }))).toMatch(/"examples" must be a non-empty list/);
    const badRow = [...good.examples];
    badRow[1] = { input: 'x', label: 'complaint' };
    expect(await parseError(text({ ...good, examples: badRow }))).toBe('complaints.suite.json: examples[1] needs string "input" and "target"');
    expect(await parseError(text({ ...good, examples: [good.examples[0], null] }))).toBe('complaints.suite.json: examples[1] needs string "input" and "target"');
  });

  it('refuses a file whose rows were edited after it was pinned', async () => {
    const s = await makeSuite('complaints', rows, 'src', 5);
    const edited = JSON.parse(serializeSuite(s));
    edited.examples[2].target = 'no complaint';
    const message = await parseError(JSON.stringify(edited), 'edited.suite.json');
    const rehash = (await makeSuite('complaints', edited.examples, 'src')).hash;
    expect(rehash).not.toBe(s.hash);
    expect(message).toBe(`edited.suite.json: its rows do not match its "hash" (${s.hash}; the rows hash to ${rehash}): the file was edited after it was pinned`);
    // Editing the description is not editing the rows.
    expect((await parseSuite(JSON.stringify({ ...JSON.parse(serializeSuite(s)), source: 'renamed', task: 'other' }), 'f')).hash).toBe(s.hash);
  });

  it('keeps only input and target of each row', async () => {
    const s = await makeSuite('t', rows, 'src', 5);
    const o = JSON.parse(serializeSuite(s));
    o.examples[0].note = 'extra';
    const back = await parseSuite(JSON.stringify(o), 'f');
    expect(back.examples[0]).toEqual(rows[0]);
  });
});

describe('versionRows', () => {
  const H = 'suitehash';

  it('numbers versions by creation, and measures each change against the last earlier version scored on this suite', () => {
    const rows = versionRows(
      [version('c', 30, score(H, 30, 40)), version('a', 10, score(H, 20, 40)), version('b', 20, null), version('d', 40, score('old', 39, 40)), version('e', 50, score(H, 29, 40))],
      { hash: H },
      null,
    );
    expect(rows.map((r) => [r.version, r.id])).toEqual([
      [1, 'a'],
      [2, 'b'],
      [3, 'c'],
      [4, 'd'],
      [5, 'e'],
    ]);
    expect(rows.map((r) => r.accuracy)).toEqual([0.5, null, 0.75, null, 29 / 40]);
    // c against a (b unscored); e against c (d was scored on another suite).
    expect(rows[0].delta).toBeNull();
    expect(rows[1].delta).toBeNull();
    expect(rows[2].delta).toBeCloseTo(25, 9);
    expect(rows[3].delta).toBeNull();
    expect(rows[4].delta).toBeCloseTo(-2.5, 9);
    expect(rows.map((r) => r.dropped)).toEqual([false, false, false, false, true]);
    expect(rows.map((r) => r.stale)).toEqual([false, false, false, true, false]);
    expect(rows[3].perLabel).toBeNull();
    expect(rows[2].perLabel).toEqual({ a: { correct: 30, total: 40, accuracy: 0.75 } });
    expect(rows[0].name).toBe('adapter a');
  });

  it('a fall of exactly 2 points is not a drop; more than 2 is', () => {
    expect(DROP_POINTS).toBe(2);
    // 25/50 -> 24/50 on the tutorial's 50 rows, and 0.52 -> 0.50: exactly 2 points (in floating point, a hair over).
    for (const [before, after, total] of [
      [25, 24, 50],
      [26, 25, 50],
      [45, 44, 50],
      [38, 37, 50],
    ]) {
      const [, next] = versionRows([version('a', 1, score(H, before, total)), version('b', 2, score(H, after, total))], { hash: H }, null);
      expect(next.delta).toBeCloseTo(-2, 9);
      expect(next.dropped, `${before}/${total} -> ${after}/${total}`).toBe(false);
    }
    const [, fell] = versionRows([version('a', 1, score(H, 100, 200)), version('b', 2, score(H, 95, 200))], { hash: H }, null);
    expect(fell.delta).toBeCloseTo(-2.5, 9);
    expect(fell.dropped).toBe(true);
    const [, slight] = versionRows([version('a', 1, score(H, 1000, 1000)), version('b', 2, score(H, 979, 1000))], { hash: H }, null);
    expect(slight.dropped).toBe(true);
    const [, up] = versionRows([version('a', 1, score(H, 10, 40)), version('b', 2, score(H, 40, 40))], { hash: H }, null);
    expect(up.delta).toBeCloseTo(75, 9);
    expect(up.dropped).toBe(false);
  });

  it('flags drift only where both the version and the loaded model name their base revision and they differ', () => {
    expect(revisionDrift('abc', 'def')).toBe(true);
    expect(revisionDrift('abc', 'abc')).toBe(false);
    expect(revisionDrift(null, 'abc')).toBe(false);
    expect(revisionDrift('abc', null)).toBe(false);
    const inputs = [version('a', 1, null, null), version('b', 2, null, 'main'), version('c', 3, null, 'abc123')];
    expect(versionRows(inputs, { hash: H }, null).map((r) => r.drift)).toEqual([false, false, false]);
    expect(versionRows(inputs, { hash: H }, 'main').map((r) => r.drift)).toEqual([false, false, true]);
    expect(versionRows(inputs, { hash: H }, 'abc123').map((r) => r.drift)).toEqual([false, true, false]);
    expect(versionRows(inputs, { hash: H }, 'abc123')[0].revision).toBeNull();
  });

  it('marks a version scored on another suite as stale, and never scored as not', () => {
    const rows = versionRows([version('a', 1, score('earlier suite', 1, 2)), version('b', 2, null)], { hash: H }, null);
    expect(rows.map((r) => [r.stale, r.accuracy, r.delta])).toEqual([
      [true, null, null],
      [false, null, null],
    ]);
    expect(versionRows([], { hash: H }, null)).toEqual([]);
  });
});

describe('formatVersionTable', () => {
  it('prints a column per label, the change, the drop and the drift', () => {
    const H = 'h';
    const perLabel = (c: number, n: number) => ({ 'no complaint': { correct: c, total: n, accuracy: c / n }, complaint: { correct: n, total: n, accuracy: 1 } });
    const inputs: VersionInput[] = [
      { id: 'a', name: 'first', createdAt: 1, score: { ...score(H, 18, 20), perLabel: perLabel(8, 10) }, revision: null },
      { id: 'b', name: 'second try', createdAt: 2, score: { ...score(H, 15, 20), perLabel: perLabel(5, 10) }, revision: 'abc' },
      { id: 'c', name: 'third', createdAt: 3, score: score('old', 1, 1), revision: null },
      { id: 'd', name: 'fourth', createdAt: 4, score: null, revision: null },
    ];
    const rows = versionRows(inputs, { hash: H }, 'def');
    const table = formatVersionTable(rows, ['complaint', 'no complaint'], 'def');
    const lines = table.split('\n');
    expect(lines).toHaveLength(6);
    expect(lines[0].split(/\s{2,}/)).toEqual(['version', 'adapter', 'accuracy', 'change', '"complaint"', '"no complaint"', 'flags']);
    expect(lines[1]).toMatch(/^-+( +-+)+$/);
    expect(lines[2].split(/\s{2,}/)).toEqual(['v1', 'first', '90.0%', '100.0% (10/10)', '80.0% (8/10)']);
    expect(lines[3].split(/\s{2,}/)).toEqual(['v2', 'second try', '75.0%', '-15.0 pt', '100.0% (10/10)', '50.0% (5/10)', 'DROP >2 pt; base revision abc != loaded def']);
    expect(lines[4].split(/\s{2,}/)).toEqual(['v3', 'third', 'stale']);
    expect(lines[5].split(/\s{2,}/)).toEqual(['v4', 'fourth', '-']);
    // Columns line up: every cell starts where its header does.
    const at = lines[0].indexOf('change');
    expect(lines[3].indexOf('-15.0 pt')).toBe(at);
    const up = formatVersionTable(versionRows([inputs[1], { ...inputs[0], createdAt: 3, revision: 'old' }], { hash: H }, 'abc'), ['complaint'], 'abc');
    expect(up).toContain('+15.0 pt');
    expect(up).toContain('base revision old != loaded abc');
    expect(up.split('\n')[2]).not.toContain('base revision');
  });
});

describe('scoreSuite on a real model', () => {
  let lm: LoadedModel;
  let prompt: tf.Tensor2D;

  beforeAll(async () => {
    await initNodeBackend();
    lm = await loadModel(new FolderSource(path.join(LOCAL_FIXTURES, 'tiny-llama')));
    const init = await initSoftPrompt(lm.model, lm.tokenizer, { kind: 'TEXT', text: 'is this a complaint', numVirtualTokens: 4 });
    prompt = tf.tensor2d(init.values, [init.numVirtualTokens, init.hiddenSize]);
  });
  afterAll(() => prompt?.dispose());

  const inputs = ['my parcel is late again', 'here, thanks', 'lost my bag', 'great service', 'nobody answers', 'all good'].map((t) => `Tweet text : ${t} Label : `);

  /**
   * A suite where some gold labels are what the model says (so accuracy is neither 0 nor 1), the
   * rest a label it does not say. A prediction is kept as a gold label only when it re-encodes to no
   * more tokens than the other label, so the suite decodes as many tokens as this first pass did.
   */
  async function suiteFor(tuned: Tuned) {
    const wrong = 'x';
    const L = lm.tokenizer.encode(wrong, false).length;
    const first = await evaluateLabels(
      lm.model,
      lm.tokenizer,
      tuned,
      inputs.map((i) => ex(i, wrong)),
      lm.eosTokenId,
    );
    const keep = (p: string) => p !== '' && normalizeLabel(p) !== normalizeLabel(wrong) && lm.tokenizer.encode(p, false).length <= L;
    // The last row always keeps the other label.
    const examples = inputs.map((input, i) => ex(input, i < inputs.length - 1 && keep(first.predictions[i].predicted) ? first.predictions[i].predicted : wrong));
    return makeSuite('complaints', examples, 'test rows', 1);
  }

  for (const [name, tunedOf] of [
    ['no adapter', () => null],
    ['a soft prompt', () => prompt],
  ] as [string, () => Tuned][]) {
    it(`agrees with evaluateLabels and evaluateLoss counted independently (${name})`, async () => {
      const tuned = tunedOf();
      const suite = await suiteFor(tuned);
      const progress: [number, number][] = [];
      const s = await scoreSuite(lm, tuned, suite, (done, total) => progress.push([done, total]));

      const labels = await evaluateLabels(lm.model, lm.tokenizer, tuned, suite.examples, lm.eosTokenId);
      const hits = labels.predictions.map((p) => normalizeLabel(p.predicted) === normalizeLabel(p.gold));
      const correct = hits.filter(Boolean).length;
      expect(correct).toBeGreaterThan(0);
      expect(correct).toBeLessThan(suite.examples.length);
      expect(s.accuracy).toBe(correct / suite.examples.length);
      const perLabel: Record<string, { correct: number; total: number }> = {};
      suite.examples.forEach((e, i) => {
        perLabel[e.target.trim()] ??= { correct: 0, total: 0 };
        perLabel[e.target.trim()].total += 1;
        if (hits[i]) perLabel[e.target.trim()].correct += 1;
      });
      expect(Object.keys(s.perLabel).sort()).toEqual(Object.keys(perLabel).sort());
      for (const [k, v] of Object.entries(perLabel)) expect(s.perLabel[k]).toEqual({ ...v, accuracy: v.correct / v.total });

      const budget = exampleBudget(lm.model.config.contextLength, tuned ? (tuned as tf.Tensor2D).shape[0] : 0, null);
      const encoded = suite.examples.map((e) => encodeExample(lm.tokenizer, e, lm.eosTokenId, budget));
      const loss = await evaluateLoss(lm.model, tuned, sequentialBatches(encoded, 8, lm.padTokenId));
      expect(s.loss).toBeCloseTo(loss, 6);
      expect(Number.isFinite(s.loss)).toBe(true);

      expect(s.suiteHash).toBe(suite.hash);
      expect(s.count).toBe(suite.examples.length);
      expect(progress.at(-1)).toEqual([suite.examples.length, suite.examples.length]);
      expect(progress).toHaveLength(suite.examples.length);
    });
  }

  it('scores the prompt differently from no adapter on the same suite', async () => {
    const suite = await suiteFor(null);
    const [none, tuned] = [await scoreSuite(lm, null, suite), await scoreSuite(lm, prompt, suite)];
    expect(tuned.loss).not.toBeCloseTo(none.loss, 6);
  });
});
