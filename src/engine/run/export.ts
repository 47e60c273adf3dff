// The export bundle of an adapter: the PEFT folder (adapter_config.json, the safetensors, a model
// card), and for a trained run the data it saw, its split (row ids) and train_peft.py, the same
// run with PEFT + transformers. The worker and the CLI both write it.
import { serializeSuite, type Suite, type SuiteScore } from './suite.ts';
import { adapterFiles, type PromptAdapter } from '../adapter/adapter.ts';
import { methodAdapterFiles } from '../adapter/method-adapter.ts';
import type { AdapterMeta } from '../adapter/method-config.ts';
import { modelCard, type CardExtras } from '../adapter/model-card.ts';
import type { MethodConfig, Tuning } from '../methods/index.ts';
import { serveScript } from '../adapter/serve-script.ts';
import { trainScript } from '../adapter/train-script.ts';
import type { ColumnMapping } from '../data/examples.ts';
import type { Row } from '../data/parse.ts';
import { exampleBudget } from '../data/training-set.ts';
import type { MeasuredAccuracy, PromptSpec, RunSplit, TrainSpec } from './spec.ts';

export interface ExportRun {
  dataName: string;
  mapping: ColumnMapping;
  prompt: PromptSpec;
  train: TrainSpec;
  /** The rows the run trained, validated and was tested on (null: a run stored before splits were). */
  split: RunSplit | null;
  /** The run's resolved validation cadence. */
  evalEvery: number;
  steps: number;
  rows: Row[];
  testRows: Row[] | null;
  /** The model's context length (the max length of a run that left it to the context); null: not known here. */
  contextLength: number | null;
}

/** An adapter of any method, ready to write: its PEFT files and how its card begins. */
export interface ExportedFiles {
  method: MethodConfig;
  meta: AdapterMeta;
  /** Positions the method takes from the context (train_peft.py's max length leaves them). */
  contextTokens: number;
  /** adapter_config.json, adapter_model.safetensors and README.md (the card, from `card`). */
  files(extras: CardExtras): Record<string, Uint8Array>;
}

/** A prompt-tuning adapter's files. */
export function promptExport(adapter: PromptAdapter): ExportedFiles {
  const { config } = adapter;
  return {
    method: { method: 'prompt', numVirtualTokens: config.numVirtualTokens, init: config.init, initText: config.initText },
    meta: { baseModel: config.baseModel, revision: config.revision },
    contextTokens: config.numVirtualTokens,
    files: (extras) => ({ ...adapterFiles(adapter), 'README.md': new TextEncoder().encode(modelCard(config, extras)) }),
  };
}

/** Any method's adapter files from its trained values. */
export function methodExport(tuning: Tuning, values: Float32Array, meta: AdapterMeta): ExportedFiles {
  if (tuning.config.method === 'prompt') throw new Error('methodExport: prompt tuning exports through promptExport (its config keeps the init)');
  return { method: tuning.config, meta, contextTokens: tuning.contextTokens, files: (extras) => methodAdapterFiles(tuning, values, meta, extras) };
}

export interface ExportInput {
  /** The adapter's display name (the folder name is made from it). */
  name: string;
  adapter: ExportedFiles;
  /** Where the base model id came from: 'folder' adapters ship or name a folder beside the card. */
  baseKind: 'hub' | 'folder' | 'files' | string;
  metrics: { finalLoss: number | null; bestValLoss: number | null; accuracy: MeasuredAccuracy | null; trainedOn: string | null };
  run?: ExportRun;
  /** Base model files to ship in `<baseModel>/` beside the adapter (the built-in model exists nowhere else). */
  baseModelFiles?: Record<string, Uint8Array>;
  /** The task's pinned suite (shipped as SUITE_FILE, for `cli eval --suite` before deploying) and the adapter's score on it. */
  suite?: { suite: Suite; score: SuiteScore | null };
}

export interface ExportBundle {
  files: Record<string, Uint8Array>;
  folderName: string;
}

export const SPLIT_FILE = 'split.json';
export const SUITE_FILE = 'suite.json';

export function exportBundle(x: ExportInput): ExportBundle {
  const enc = new TextEncoder();
  const { meta, method } = x.adapter;
  const base = meta.baseModel ?? '<base model id>';
  const facts: Record<string, string | number> = {};
  const r = x.run;
  if (r) {
    const t = r.train;
    facts.dataset = `${r.dataName} (${r.rows.length} rows; template "${r.mapping.template}")`;
    if (r.split) facts.split = `${r.split.train.length} training, ${r.split.validation.length} validation, ${r.split.test.length} test rows (row ids in ${SPLIT_FILE}; dataset ${r.split.datasetHash})`;
    facts.method = method.method === 'prompt' ? 'prompt tuning' : method.method;
    if (method.method === 'prompt') facts.init = r.prompt.kind + (r.prompt.kind === 'TEXT' ? ` ("${r.prompt.text}")` : ` (seed ${r.prompt.seed})`);
    else facts['init seed'] = r.prompt.seed;
    facts['learning rate'] = t.lr;
    facts['epochs / batch size / max length'] = `${t.epochs} / ${t.batchSize} / ${t.maxLength ?? 'context'}`;
    facts.validation = `every ${r.evalEvery} steps${t.patience ? `, early stopping after ${t.patience} evaluations without improvement` : ''}`;
    facts.steps = r.steps;
  }
  const m = x.metrics;
  if (m.finalLoss !== null) facts['final training loss'] = m.finalLoss.toFixed(4);
  if (m.bestValLoss !== null) facts['best validation loss'] = m.bestValLoss.toFixed(4);
  if (m.accuracy) facts[m.accuracy.heldOut ? 'held-out accuracy' : 'accuracy'] = `${(m.accuracy.value * 100).toFixed(1)}% on ${m.accuracy.rows}`;
  if (m.trainedOn) facts['trained on'] = m.trainedOn;
  const sc = x.suite?.score && x.suite.score.suiteHash === x.suite.suite.hash ? x.suite.score : null;
  if (x.suite)
    facts['suite accuracy'] = sc
      ? `${(sc.accuracy * 100).toFixed(1)}% on the ${sc.count}-row suite of ${x.suite.suite.task} (${SUITE_FILE})`
      : `not scored on the suite of ${x.suite.suite.task} (${SUITE_FILE})`;
  const files = x.adapter.files({ facts });
  if (x.suite) files[SUITE_FILE] = enc.encode(serializeSuite(x.suite.suite));
  let card = new TextDecoder().decode(files['README.md']);
  if (r) {
    const lines = (rows: Row[]) => enc.encode(rows.map((row) => JSON.stringify(row)).join('\n') + '\n');
    files['dataset.jsonl'] = lines(r.rows);
    if (r.testRows?.length) files['dataset.test.jsonl'] = lines(r.testRows);
    if (r.split)
      files[SPLIT_FILE] = enc.encode(
        JSON.stringify({ dataset: r.split.datasetHash, rows: r.rows.length, test_rows: r.testRows?.length ?? 0, train: r.split.train, validation: r.split.validation, test: r.split.test }) + '\n',
      );
    const t = r.train;
    files['train_peft.py'] = enc.encode(
      trainScript({
        baseModel: base,
        revision: meta.revision,
        method,
        datasetFile: 'dataset.jsonl',
        testFile: r.testRows?.length ? 'dataset.test.jsonl' : null,
        template: r.mapping.template,
        inputColumn: r.mapping.input,
        targetColumn: r.mapping.target,
        taskKind: r.mapping.kind,
        lr: t.lr,
        epochs: t.epochs,
        batchSize: t.batchSize,
        maxLength: t.maxLength ?? exampleBudget(contextOf(r), x.adapter.contextTokens, null),
        warmupSteps: t.warmupSteps,
        weightDecay: t.weightDecay,
        valSplit: t.valSplit,
        patience: t.patience,
        evalEvery: r.evalEvery,
        maxSteps: t.maxSteps,
        seed: t.seed,
        splitFile: r.split ? SPLIT_FILE : null,
      }),
    );
    card += [
      '',
      '## Train it further, outside the browser',
      '',
      `\`train_peft.py\` repeats this run with PEFT + transformers on \`dataset.jsonl\`${r.split ? `, with the same training and validation rows (\`${SPLIT_FILE}\`)` : ''}, the same validation cadence, patience and step limit:`,
      '',
      '```bash',
      'pip install torch "transformers>=4.40" "peft>=0.10" "accelerate>=0.30"',
      'accelerate launch train_peft.py --epochs 10          # or: python train_peft.py',
      ...(method.method === 'p_tuning' || (method.method === 'prefix' && method.prefixProjection) ? [] : ['accelerate launch train_peft.py --from-adapter .     # continue from this adapter']),
      '```',
      '',
    ].join('\n');
  }
  // Serving: this folder beside other adapter folders of the same base model, one server for all
  // (serve_peft.py mixes soft prompts in a batch; the other methods serve through PEFT itself).
  if (method.method === 'prompt') files['serve_peft.py'] = enc.encode(serveScript({ baseModel: base, revision: meta.revision }));
  if (method.method === 'prompt')
    card += [
      '',
      '## Serve it with other adapters',
      '',
      '`serve_peft.py` serves every adapter folder of a directory on one base model, rows of different adapters mixed in each batch (an OpenAI-style `/v1/completions`); from this folder:',
      '',
      '```bash',
      'python serve_peft.py --adapters .. --device cuda      # this folder and its sibling adapter folders',
      '```',
      '',
    ].join('\n');
  const shipped = x.baseModelFiles && Object.keys(x.baseModelFiles).length > 0;
  if (shipped) for (const [name, bytes] of Object.entries(x.baseModelFiles as Record<string, Uint8Array>)) files[`${base}/${name}`] = bytes;
  if (x.baseKind !== 'hub') {
    // A folder model has no Hub id: the adapter names the folder, and the card's code loads it
    // from beside the adapter folder's files.
    card += [
      '',
      '## The base model',
      '',
      shipped
        ? `\`${base}\` is a local model folder; its files are in \`${base}/\` beside this card, so the lines above load it when run from this folder.`
        : `\`${base}\` is a local model folder, not a Hub id: put (or link) that folder here as \`${base}/\`, and the lines above load it when run from this folder.`,
      '',
    ].join('\n');
  }
  files['README.md'] = enc.encode(card);
  return { files, folderName: slug(x.name) || 'soft-prompt' };
}

function slug(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60);
}

function contextOf(r: ExportRun): number {
  if (r.contextLength === null) throw new Error("this run left the max length to the model's context: load its model to export train_peft.py with that length");
  return r.contextLength;
}
