// The page never runs tfjs: nothing the UI thread imports (src/main.tsx and what it reaches, dynamic imports included)
// may import @tensorflow/*; the worker is reached only through `new Worker(new URL(...))`.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './support/fixtures.ts';

function resolve(file: string, spec: string): { specifier: string; resolved: string | null } {
  const resolved = spec.startsWith('.') ? path.resolve(path.dirname(file), spec.replace(/\?.*$/, '')) : null;
  return { specifier: spec, resolved: resolved && existsSync(resolved) ? resolved : null };
}

/** Value imports (not `import type`) of a module, static and dynamic, relative ones resolved to files. */
function valueImports(file: string): { specifier: string; resolved: string | null }[] {
  const src = readFileSync(file, 'utf8');
  const out: { specifier: string; resolved: string | null }[] = [];
  const re = /^\s*(import|export)\s+(?!type\b)(?:[^'"]*?\sfrom\s+)?['"]([^'"]+)['"]/gm;
  for (const m of src.matchAll(re)) {
    // `import { type A, type B } from` imports nothing at run time either.
    const clause = m[0].slice(m[0].indexOf(m[1]) + m[1].length, m[0].lastIndexOf('from'));
    const names = clause.match(/\{([^}]*)\}/)?.[1];
    if (
      names &&
      !clause
        .replace(/\{[^}]*\}/, '')
        .trim()
        .replace(/,$/, '') &&
      names.split(',').every((n) => !n.trim() || n.trim().startsWith('type '))
    )
      continue;
    out.push(resolve(file, m[2]));
  }
  // Dynamic imports load at run time too.
  for (const m of src.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(resolve(file, m[1]));
  return out;
}

function reachable(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const todo = [entry];
  while (todo.length) {
    const f = todo.pop() as string;
    if (files.has(f)) continue;
    files.add(f);
    if (!/\.(ts|tsx)$/.test(f)) continue;
    for (const i of valueImports(f)) {
      if (i.resolved) todo.push(i.resolved);
      else if (!i.specifier.startsWith('.')) packages.add(i.specifier);
    }
  }
  return { files, packages };
}

describe('UI thread boundary', () => {
  const { files, packages } = reachable(path.join(REPO_ROOT, 'src/main.tsx'));

  it('reaches no tfjs package and no tokenizer from the page', () => {
    expect([...packages].filter((p) => p.startsWith('@tensorflow/') || p.startsWith('@huggingface/'))).toEqual([]);
  });

  it('reaches no worker implementation and no Node-only code', () => {
    const rel = [...files].map((f) => path.relative(REPO_ROOT, f));
    expect(rel.filter((f) => (f.startsWith('src/worker/') && f !== 'src/worker/protocol.ts') || f.startsWith('src/node/') || f.startsWith('src/cli/'))).toEqual([]);
  });

  it('would notice tfjs: the worker entry does reach it', () => {
    const worker = reachable(path.join(REPO_ROOT, 'src/worker/worker.ts'));
    expect([...worker.packages]).toContain('@tensorflow/tfjs-core');
  });

  it('reaches the UI it renders', () => {
    const rel = [...files].map((f) => path.relative(REPO_ROOT, f));
    expect(rel).toContain('src/ui/app/App.tsx');
    expect(rel).toContain('src/ui/train/TrainPanel.tsx');
  });
});
