// Where the reference fixtures are, and the tolerance checks of SPEC.md.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSafetensors, type ParsedSafetensors } from '../../src/engine/io/safetensors.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '../..');
/** Generated tiny models, copied into the repo. */
export const LOCAL_FIXTURES = path.join(REPO_ROOT, 'test/fixtures');
/** The shared folder beside the checkout (holds stories260k, which must not be committed). */
export const SHARED_FIXTURES = path.resolve(REPO_ROOT, '../shared/fixtures');

export const TINY_MODELS = ['tiny-gpt2', 'tiny-gpt2-noprefix', 'tiny-bloom', 'tiny-llama', 'tiny-qwen2'];

export const hasStories260k = existsSync(path.join(SHARED_FIXTURES, 'stories260k'));

/** Models made by scripts/fixtures/make_families.py with transformers' own classes (one folder per family). */
export const FAMILY_FIXTURES = path.join(LOCAL_FIXTURES, 'families');
export const FAMILY_MODELS = existsSync(FAMILY_FIXTURES)
  ? readdirSync(FAMILY_FIXTURES)
      .filter((n) => existsSync(path.join(FAMILY_FIXTURES, n, 'config.json')))
      .sort()
  : [];

export interface FixtureModel {
  name: string;
  dir: string;
  /** The file to read as config.json (the family fixtures' transformers-4 layout is config.t4.json). */
  configFile?: string;
}

/**
 * The tiny models copied from ../shared/fixtures, and stories260k (never committed), read from
 * ../shared; when it is missing the run fails with how to fix it, unless PT_SKIP_SHARED=1 says,
 * out loud, that this checkout runs without it (the skip is then reported by the tests that need it).
 */
export function baseFixtureModels(): FixtureModel[] {
  const models: FixtureModel[] = TINY_MODELS.map((name) => ({ name, dir: path.join(LOCAL_FIXTURES, name) }));
  const stories = path.join(SHARED_FIXTURES, 'stories260k');
  if (hasStories260k) models.push({ name: 'stories260k', dir: stories });
  else if (process.env.PT_SKIP_SHARED !== '1')
    throw new Error(`${stories} is missing: put the shared fixtures beside the checkout (../shared/fixtures), or set PT_SKIP_SHARED=1 to run without the stories260k cases`);
  return models;
}

/**
 * Every fixture model with its folder; stories260k as baseFixtureModels says. Each
 * family fixture runs twice: with config.json as transformers 5 writes it, and with config.t4.json.
 */
export function fixtureModels(): FixtureModel[] {
  const models = baseFixtureModels();
  for (const name of FAMILY_MODELS) {
    const dir = path.join(FAMILY_FIXTURES, name);
    models.push({ name: `${name} (t5 config)`, dir });
    models.push({ name: `${name} (t4 config)`, dir, configFile: 'config.t4.json' });
  }
  return models;
}

export interface FixtureCase {
  json: Record<string, any>;
  expected: ParsedSafetensors | null;
  adapterDir: string | null;
}

export function readCase(modelDir: string, name: string): FixtureCase {
  const dir = path.join(modelDir, 'cases', name);
  const json = JSON.parse(readFileSync(path.join(dir, 'case.json'), 'utf8'));
  const expPath = path.join(dir, 'expected.safetensors');
  const expected = existsSync(expPath) ? parseSafetensors(new Uint8Array(readFileSync(expPath)), expPath) : null;
  const adapterDir = existsSync(path.join(dir, 'adapter')) ? path.join(dir, 'adapter') : null;
  return { json, expected, adapterDir };
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** SPEC.md: logits, gradients and trained prompts: max |a - b| <= 1e-4 * max(1, max |b|). */
export function tensorTolerance(expected: ArrayLike<number>): number {
  return 1e-4 * Math.max(1, maxAbs(expected));
}

/** SPEC.md: loss: |a - b| <= 1e-5 * max(1, |b|). */
export function lossTolerance(expected: number): number {
  return 1e-5 * Math.max(1, Math.abs(expected));
}

/** Max error seen per model and case kind, printed at the end of the fixture suite. */
export const errorLog: { model: string; kind: string; error: number; tolerance: number }[] = [];
