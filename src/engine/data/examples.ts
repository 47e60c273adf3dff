// Rows → (input, target) pairs: which column is the input, which the target, and the template
// that turns a row into the model's input text.
import { DataError, type Row } from './parse.ts';

export type TaskKind = 'label' | 'generation';

export interface ColumnMapping {
  kind: TaskKind;
  /** Column holding the input (filled into the template). */
  input: string;
  /** Column holding the target the loss is taken on. */
  target: string;
  /** `{column}` placeholders are replaced by the row's values. */
  template: string;
}

export interface Example {
  /** The templated input text. */
  input: string;
  target: string;
}

/** The PEFT cookbook's format for the twitter_complaints task. */
export const DEFAULT_LABEL_TEMPLATE = 'Tweet text : {text} Label : ';
export const DEFAULT_GENERATION_TEMPLATE = '{prompt}';

/** text+label (a label task) or prompt+completion (a generation task), as the dataset naming rule says. */
export function detectColumns(rows: Row[], file: string): ColumnMapping {
  const cols = new Set(Object.keys(rows[0] ?? {}));
  if (cols.has('text') && cols.has('label')) return { kind: 'label', input: 'text', target: 'label', template: DEFAULT_LABEL_TEMPLATE };
  if (cols.has('prompt') && cols.has('completion')) return { kind: 'generation', input: 'prompt', target: 'completion', template: DEFAULT_GENERATION_TEMPLATE };
  throw new DataError(`${file}: needs columns text + label or prompt + completion (found: ${[...cols].join(', ') || 'none'}); map the columns explicitly`);
}

const PLACEHOLDER = /\{([A-Za-z0-9_ -]+)\}/g;

export function templateColumns(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1]);
}

export function applyTemplate(template: string, row: Row): string {
  return template.replace(PLACEHOLDER, (_, name: string) => row[name] ?? '');
}

export function toExamples(rows: Row[], mapping: ColumnMapping, file: string): Example[] {
  const cols = new Set(Object.keys(rows[0] ?? {}));
  for (const c of [mapping.input, mapping.target, ...templateColumns(mapping.template)]) {
    if (!cols.has(c)) throw new DataError(`${file}: column "${c}" does not exist (columns: ${[...cols].join(', ')})`);
  }
  if (!templateColumns(mapping.template).includes(mapping.input)) {
    throw new DataError(`template "${mapping.template}" never uses the input column: add {${mapping.input}}`);
  }
  return rows.map((row, i) => {
    const target = row[mapping.target];
    if (target === undefined || target.trim() === '') throw new DataError(`${file}: row ${i + 1} has an empty "${mapping.target}"`);
    return { input: applyTemplate(mapping.template, row), target };
  });
}
