// The data panel's actions: pick a built-in dataset or load one, map its columns, and ask the
// worker for the split and token-length statistics.
import { detectColumns, toExamples, type ColumnMapping } from '../../engine/data/examples.ts';
import { parseDataset, type Row } from '../../engine/data/parse.ts';
import type { DataStatsRequest } from '../../worker/protocol.ts';
import { whenEngine } from '../app/engine.ts';
import { app, type Dataset } from '../app/state.ts';
import { errorMessage } from '../engine/client.ts';
import { datasetUrl, fetchText, type BuiltinDataset } from './builtins.ts';

function parseRows(text: string, name: string): Row[] {
  return parseDataset(text, name);
}

export async function selectBuiltin(b: BuiltinDataset): Promise<void> {
  const [train, test, readme] = await Promise.all([fetchText(datasetUrl(b.id, 'train')), fetchText(datasetUrl(b.id, 'test')), fetchText(datasetUrl(b.id, 'README'))]);
  if (!train) {
    app.set({ dataError: `${b.id}.train.jsonl could not be fetched from the server` });
    return;
  }
  try {
    const rows = parseRows(train, `${b.id}.train.jsonl`);
    const testRows = test ? parseRows(test, `${b.id}.test.jsonl`) : null;
    const description = readme ? readmeSummary(readme) : b.summary;
    setDataset({ name: b.id, source: { kind: 'builtin', id: b.id }, rows, testRows, columns: Object.keys(rows[0]), description }, { template: b.template });
    const p = app.get().prompt;
    if (p.kind === 'TEXT' && (p.text === null || app.get().builtins.some((x) => x.initText === p.text))) app.set({ prompt: { ...p, text: b.initText } });
  } catch (e) {
    app.set({ dataError: errorMessage(e) });
  }
}

function readmeSummary(md: string): string {
  const paragraphs = md
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .filter((p) => p && !p.startsWith('#'));
  return paragraphs[0] ?? '';
}

/** Uploaded or pasted CSV / JSONL. */
export function loadDatasetText(text: string, name: string, source: Dataset['source']): void {
  try {
    const rows = parseRows(text, name);
    setDataset({ name, source, rows, testRows: null, columns: Object.keys(rows[0]), description: null }, {});
  } catch (e) {
    app.set({ dataError: errorMessage(e) });
  }
}

function setDataset(d: Dataset, hint: { template?: string }): void {
  let mapping: ColumnMapping;
  try {
    mapping = detectColumns(d.rows, d.name);
    if (hint.template) mapping = { ...mapping, template: hint.template };
  } catch {
    // No text/label or prompt/completion columns: the user maps them (first two columns meanwhile).
    const [a, b] = d.columns;
    mapping = { kind: 'label', input: a, target: b ?? a, template: `{${a}}` };
  }
  app.set({ dataset: d, dataError: null });
  setMapping(mapping);
}

export function setMapping(mapping: ColumnMapping): void {
  const d = app.get().dataset;
  if (!d) return;
  try {
    const examples = toExamples(d.rows, mapping, d.name);
    const testExamples = d.testRows ? toExamples(d.testRows, mapping, `${d.name} (test)`) : null;
    app.set({ mapping, examples, testExamples, dataError: null });
  } catch (e) {
    app.set({ mapping, examples: null, testExamples: null, dataError: errorMessage(e) });
  }
  void refreshStats();
}

let statsTimer: ReturnType<typeof setTimeout> | null = null;
/** Recomputes split, steps and token-length statistics (debounced; runs in the worker). */
export function refreshStats(): Promise<void> {
  if (statsTimer) clearTimeout(statsTimer);
  return new Promise((resolve) => {
    statsTimer = setTimeout(async () => {
      const s = app.get();
      if (!s.examples || !s.model || !s.dataset || !s.mapping) return resolve();
      try {
        // What a run would start with: the worker plans it as it plans the run.
        const request: DataStatsRequest = {
          data: { name: s.dataset.name, rows: s.dataset.rows, mapping: s.mapping, testRows: s.dataset.testRows },
          prompt: s.prompt,
          train: s.train,
          method: s.method === 'prompt' ? null : s.methods[s.method],
        };
        const withMaxLength = (maxLength: number | null): DataStatsRequest => ({ ...request, train: { ...request.train, maxLength } });
        const engine = await whenEngine();
        let stats = await engine.dataStats(s.maxLengthAuto ? withMaxLength(null) : request);
        if (s.maxLengthAuto) {
          // Fit the longest example (rounded up to 16), within what the context leaves.
          const fit = Math.min(stats.maxLength, Math.max(16, Math.ceil(Math.max(stats.train.max, stats.val.max) / 16) * 16));
          app.set((st) => ({ train: { ...st.train, maxLength: fit } }));
          stats = await engine.dataStats(withMaxLength(fit));
        }
        app.set({ stats, statsError: null });
      } catch (e) {
        app.set({ stats: null, statsError: errorMessage(e) });
      }
      resolve();
    }, 150);
  });
}
