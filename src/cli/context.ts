// What several commands share: loading the model (with a download bar), an adapter, a dataset.
import { UsageError } from './args.ts';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { detectColumns, toExamples, type ColumnMapping, type Example } from '../engine/data/examples.ts';
import { DataError, parseDataset, type Row } from '../engine/data/parse.ts';
import { loadModel, type LoadedModel } from '../engine/load.ts';
import { readMethodAdapterFolder } from '../node/adapter-folder.ts';
import { baseWarnings } from '../engine/adapter/adapter.ts';
import { loadMethodAdapter, type MethodAdapter } from '../engine/adapter/method-adapter.ts';
import { AdapterError } from '../engine/adapter/peft-config.ts';
import type { Injection } from '../engine/methods/method.ts';
import { initNodeBackend } from '../node/backend.ts';
import { modelSource } from '../node/model-source.ts';
import { bar, formatBytes, status, statusDone } from './output.ts';
import type { FlagSpec, ParsedFlags } from './args.ts';

export const DEFAULT_MODEL = 'public/models/playground-demo';
/** The complaint task (PEFT's cookbook task in miniature), the default data of train and eval. */
export const DEFAULT_TRAIN_DATA = 'public/datasets/complaint.train.jsonl';
export const DEFAULT_TEST_DATA = 'public/datasets/complaint.test.jsonl';

export const MODEL_FLAG: FlagSpec = { name: 'model', type: 'string', help: 'model folder, or Hub id org/name[@revision] (HF_ENDPOINT overrides the Hub URL)', default: DEFAULT_MODEL };
export const ADAPTER_FLAG: FlagSpec = { name: 'adapter', type: 'string', help: 'PEFT adapter folder to apply (prompt tuning, prefix tuning, P-tuning or LoRA)' };
export const DATA_FLAGS: FlagSpec[] = [
  { name: 'template', type: 'string', help: 'input template with {column} placeholders (default: "Tweet text : {text} Label : " for text/label data, "{prompt}" for prompt/completion)' },
  { name: 'input-column', type: 'string', help: 'column filled into the template (default: text or prompt)' },
  { name: 'target-column', type: 'string', help: 'column the loss is taken on (default: label or completion)' },
];

export async function loadCliModel(spec: string): Promise<LoadedModel> {
  await initNodeBackend();
  const lm = await loadModel(modelSource(spec), (p) => {
    const frac = p.total ? p.loaded / p.total : 0;
    status(`${p.file} ${bar(frac)} ${formatBytes(p.loaded)}${p.total ? ' / ' + formatBytes(p.total) : ''}`);
  });
  statusDone();
  return lm;
}

export interface CliMethodAdapter {
  adapter: MethodAdapter;
  /** The adapter as it enters the forward pass (freed by disposeInjection). */
  tuned: Injection;
  warnings: string[];
}

/** Any method's adapter folder on the loaded model; a shape or module that does not fit is an error naming it. */
export function loadCliMethodAdapter(lm: LoadedModel, dir: string): CliMethodAdapter {
  const adapter = readMethodAdapterFolder(dir);
  const warnings = baseWarnings(adapter.meta.baseModel, adapter.meta.revision, lm.origin);
  for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
  let tuned: Injection;
  try {
    tuned = loadMethodAdapter(adapter, lm.model);
  } catch (e) {
    throw new AdapterError(`${dir}: ${(e as Error).message}`);
  }
  return { adapter, tuned, warnings };
}

/** A text file the user named, or a clear error naming it. */
export function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as Error).message}`);
  }
}

export function readExamples(file: string, flags: ParsedFlags): { examples: Example[]; mapping: ColumnMapping; rows: Row[]; name: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new DataError(`cannot read ${file}: ${(e as Error).message}`);
  }
  const name = path.basename(file);
  const rows = parseDataset(text, name);
  const detected = flags['input-column'] && flags['target-column'] ? null : detectColumns(rows, name);
  const mapping: ColumnMapping = {
    kind: detected?.kind ?? 'label',
    input: (flags['input-column'] as string | undefined) ?? (detected as ColumnMapping).input,
    target: (flags['target-column'] as string | undefined) ?? (detected as ColumnMapping).target,
    template: (flags.template as string | undefined) ?? detected?.template ?? `{${flags['input-column']}}`,
  };
  return { examples: toExamples(rows, mapping, name), mapping, rows, name };
}
