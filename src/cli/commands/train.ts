import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { baseWarnings, makeAdapter } from '../../engine/adapter/adapter.ts';
import { trainableValues } from '../../engine/adapter/method-adapter.ts';
import { metaOf } from '../../engine/adapter/method-config.ts';
import { Tuning } from '../../engine/methods/index.ts';
import { readMethodAdapterFolder } from '../../node/adapter-folder.ts';
import { METHOD_FLAGS, methodFromFlags, methodName } from '../method-flags.ts';
import { datasetHash } from '../../engine/data/hash.ts';
import type { LoadedModel } from '../../engine/load.ts';
import { batchFromJson, validateBatch, type Batch } from '../../engine/prompt/batch.ts';
import { parseInitKind } from '../../engine/prompt/init.ts';
import { exportBundle, methodExport, promptExport } from '../../engine/run/export.ts';
import { parseSuite } from '../../engine/run/suite.ts';
import { scoreSuite } from '../../engine/run/evaluate.ts';
import { disposeInjection } from '../../engine/methods/method.ts';
import { planRun, runStats, trainerFor, type RunPlan } from '../../engine/run/plan.ts';
import { DEFAULT_LR, DEFAULT_TRAIN_SPEC as D, methodConfigOf, type PromptSpec, type TrainSpec } from '../../engine/run/spec.ts';
import { Trainer, type TrainData, type TrainOptions } from '../../engine/train/trainer.ts';
import { writeFolder } from '../../node/adapter-folder.ts';
import { ADAPTER_FLAG, DATA_FLAGS, DEFAULT_TRAIN_DATA, loadCliMethodAdapter, loadCliModel, MODEL_FLAG, readExamples, readText } from '../context.ts';
import type { Command } from '../command.ts';
import { UsageError, type ParsedFlags } from '../args.ts';
import { INIT_FLAGS } from './init.ts';
import { bar, emit, formatDuration, status, statusDone } from '../output.ts';

/** Pre-tokenized batches: a list, {batches: [...]}, or a case.json with {train: {batches, lr, ...}}. */
function readBatchFile(file: string, vocabSize: number): { batches: Batch[]; defaults: Partial<TrainOptions> & { totalSteps?: number } } {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`${file}: ${(e as Error).message}`);
  }
  const j = json as Record<string, unknown>;
  const holder = (Array.isArray(json) ? { batches: json } : j.train && typeof j.train === 'object' ? j.train : j) as Record<string, unknown>;
  if (!Array.isArray(holder.batches) || holder.batches.length === 0) throw new UsageError(`${file}: expected a non-empty "batches" list`);
  const batches = holder.batches.map((b: unknown, i: number) => {
    const batch = batchFromJson(b, `${file} batches[${i}]`);
    validateBatch(batch, vocabSize, `${file} batches[${i}]`);
    return batch;
  });
  const num = (k: string) => (typeof holder[k] === 'number' ? (holder[k] as number) : undefined);
  const betas = Array.isArray(holder.betas) ? (holder.betas as [number, number]) : undefined;
  const defaults = Object.fromEntries(
    Object.entries({ lr: num('lr'), weightDecay: num('weight_decay'), eps: num('eps'), warmupSteps: num('num_warmup_steps'), betas, totalSteps: num('num_training_steps') }).filter(
      ([, v]) => v !== undefined,
    ),
  );
  return { batches, defaults };
}

/** Where training starts: the method, its initial values, and (prompt tuning) the init the card records. */
interface Start {
  tuning: Tuning;
  values: Float32Array;
  prompt: PromptSpec;
  warnings: string[];
}

async function startingPoint(lm: LoadedModel, flags: ParsedFlags, given: (flag: string) => boolean): Promise<Start> {
  const seed = flags.seed as number;
  const method = methodName(flags);
  const promptSpec = (): PromptSpec => {
    const kind = parseInitKind(flags.init as string);
    return { kind, text: kind === 'TEXT' ? (flags['init-text'] as string) : null, numVirtualTokens: flags['virtual-tokens'] as number, seed };
  };
  if (flags.adapter) {
    const dir = flags.adapter as string;
    const adapter = readMethodAdapterFolder(dir);
    const m = adapter.config;
    if (given('method') && m.method !== method) throw new UsageError(`--method ${method}, but ${dir} is a ${m.method} adapter (its method is used when continuing from it)`);
    const warnings = baseWarnings(adapter.meta.baseModel, adapter.meta.revision, lm.origin);
    for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
    const tuning = new Tuning(lm.model, m);
    const prompt = m.method === 'prompt' ? { kind: m.init, text: m.initText, numVirtualTokens: m.numVirtualTokens, seed } : promptSpec();
    return { tuning, values: trainableValues(adapter, tuning), prompt, warnings };
  }
  const prompt = promptSpec();
  const tuning = new Tuning(lm.model, method === 'prompt' ? methodConfigOf(prompt, null) : methodFromFlags(flags));
  return { tuning, values: await tuning.init(lm.tokenizer, seed), prompt, warnings: [] };
}

export const train: Command = {
  spec: {
    name: 'train',
    summary: 'Train an adapter (prompt tuning, prefix tuning, P-tuning or LoRA; AdamW, linear schedule) and write its PEFT folder.',
    usage:
      'train --model M (--data FILE [--template T] | --batches FILE.json) [--method prompt|prefix|p_tuning|lora [method flags]] [--adapter DIR | --init ... --virtual-tokens V] [options] --out DIR',
    flags: [
      MODEL_FLAG,
      { name: 'data', type: 'string', help: `JSONL or CSV training data (text+label or prompt+completion); without --data or --batches, ${DEFAULT_TRAIN_DATA}` },
      ...DATA_FLAGS,
      { name: 'batches', type: 'string', help: 'pre-tokenized batches (SPEC.md train form), stepped through in order' },
      ADAPTER_FLAG,
      ...INIT_FLAGS,
      ...METHOD_FLAGS,
      {
        name: 'lr',
        type: 'number',
        help: `peak learning rate (default per method: ${Object.entries(DEFAULT_LR)
          .map(([m, lr]) => `${m} ${lr}`)
          .join(', ')})`,
        default: D.lr,
      },
      { name: 'epochs', type: 'int', help: 'passes over the data', default: D.epochs },
      { name: 'batch-size', type: 'int', help: 'examples per step', default: D.batchSize },
      { name: 'max-length', type: 'int', help: 'longest example in tokens, virtual tokens excluded (longer ones are truncated and counted; default: what the context leaves)' },
      { name: 'warmup-steps', type: 'int', help: 'linear warmup steps', default: D.warmupSteps },
      { name: 'weight-decay', type: 'number', help: 'AdamW decoupled weight decay', default: D.weightDecay },
      { name: 'val-split', type: 'number', help: 'fraction of --data held out for validation', default: D.valSplit },
      { name: 'patience', type: 'int', help: 'stop after N evaluations without a better validation loss (0: off)', default: D.patience },
      { name: 'eval-every', type: 'int', help: 'validate every N steps (default: twice per epoch, as in the tab)' },
      { name: 'max-steps', type: 'int', help: 'stop after N steps' },
      { name: 'sync-every', type: 'int', help: 'read the loss back every N steps', default: 1 },
      { name: 'no-dropout', type: 'boolean', help: "train without the model config's dropout (transformers applies it in training mode; seeded by --seed)" },
      { name: 'out', type: 'string', help: 'adapter folder to write', required: true },
      { name: 'suite', type: 'string', help: "a task's suite file (cli suite, or the Adapters panel's download): score the trained adapter on it at the end" },
    ],
  },
  async run(flags) {
    if (flags.data && flags.batches) throw new UsageError('train: give --data or --batches, not both');
    if (!flags.data && !flags.batches) flags.data = DEFAULT_TRAIN_DATA;
    const lm = await loadCliModel(flags.model as string);
    const given = (k: string) => process.argv.includes(`--${k}`) || process.argv.some((a) => a.startsWith(`--${k}=`));
    const start = await startingPoint(lm, flags, given);
    const { tuning } = start;
    const lr = given('lr') ? (flags.lr as number) : DEFAULT_LR[tuning.config.method];
    let trainer: Trainer;
    let report: Record<string, unknown> = {};
    let plan: RunPlan | null = null;
    let trainSpec: TrainSpec | null = null;
    let dataset: ReturnType<typeof readExamples> | null = null;
    if (flags.batches) {
      // Pre-tokenized batches (the fixture cases): stepped through in order, with the file's optimizer settings.
      const { batches, defaults: fileDefaults } = readBatchFile(flags.batches as string, lm.model.config.vocabSize);
      const epochs = given('epochs') ? (flags.epochs as number) : 1;
      const data: TrainData = { epochs, stepsPerEpoch: batches.length, batchesForEpoch: () => batches, valBatches: [] };
      const pick = <K extends keyof TrainOptions>(flag: string, key: K): TrainOptions[K] => (given(flag) || fileDefaults[key] === undefined ? flags[flag] : fileDefaults[key]) as TrainOptions[K];
      trainer = new Trainer(lm.model, tuning, start.values, data, {
        lr: given('lr') || fileDefaults.lr === undefined ? lr : fileDefaults.lr,
        epochs,
        warmupSteps: pick('warmup-steps', 'warmupSteps'),
        weightDecay: pick('weight-decay', 'weightDecay'),
        ...(fileDefaults.betas ? { betas: fileDefaults.betas } : {}),
        ...(fileDefaults.eps !== undefined ? { eps: fileDefaults.eps } : {}),
        maxSteps: (flags['max-steps'] as number | undefined) ?? null,
        syncEvery: flags['sync-every'] as number,
        dropout: !flags['no-dropout'],
        seed: flags.seed as number,
      });
    } else {
      // The same plan as the tab's: planRun gives the split, the cadence and the trainer options.
      dataset = readExamples(flags.data as string, flags);
      trainSpec = {
        lr,
        epochs: flags.epochs as number,
        batchSize: flags['batch-size'] as number,
        maxLength: (flags['max-length'] as number | undefined) ?? null,
        warmupSteps: flags['warmup-steps'] as number,
        seed: flags.seed as number,
        patience: flags.patience as number,
        valSplit: flags['val-split'] as number,
        weightDecay: flags['weight-decay'] as number,
        evalEvery: (flags['eval-every'] as number | undefined) ?? null,
        maxSteps: (flags['max-steps'] as number | undefined) ?? null,
        dropout: !flags['no-dropout'],
      };
      plan = planRun(lm, {
        rows: dataset.rows,
        testRows: null,
        datasetHash: await datasetHash(dataset.rows, null),
        mapping: dataset.mapping,
        name: dataset.name,
        numVirtualTokens: tuning.contextTokens,
        train: trainSpec,
        syncEvery: flags['sync-every'] as number,
      });
      trainer = trainerFor(lm, plan, tuning, start.values);
      // The numbers the tab's data panel shows for the same plan.
      const stats = runStats(plan);
      report = {
        task: dataset.mapping.kind,
        template: dataset.mapping.template,
        train_examples: stats.trainCount,
        val_examples: stats.valCount,
        max_length: stats.maxLength,
        eval_every: plan.evalEvery,
        truncated: stats.truncated,
        lengths: { train: stats.train, val: stats.val },
      };
      if (stats.truncated > 0) process.stderr.write(`warning: ${stats.truncated} example(s) were longer than ${stats.maxLength} tokens and were truncated\n`);
    }
    // Read before training, so a bad suite file fails now rather than after the run.
    const suite = flags.suite ? await parseSuite(readText(flags.suite as string), flags.suite as string) : null;
    const total = Math.min(trainer.totalSteps, (flags['max-steps'] as number | undefined) ?? Infinity);
    const t0 = performance.now();
    const summary = await trainer.run((e) => {
      if (e.type === 'step') {
        emit({ type: 'step', step: e.step, epoch: e.epoch, loss: e.loss, lr: e.lr, tokens_per_s: Math.round(e.tokensPerSecond) });
        const eta = ((performance.now() - t0) / 1000 / e.step) * (total - e.step);
        status(`step ${e.step}/${total} ${bar(e.step / total)} loss ${e.loss.toFixed(4)} lr ${e.lr.toExponential(2)} ETA ${formatDuration(eta)}`);
      } else if (e.type === 'eval') emit({ type: 'eval', step: e.step, epoch: e.epoch, val_loss: e.valLoss, best_val_loss: e.bestValLoss });
    });
    statusDone();
    const values = await trainer.promptValues();
    trainer.dispose();
    const c = tuning.config;
    const exported = c.method === 'prompt' ? promptExport(makeAdapter(values, lm.model.config, lm.origin, { kind: c.init, text: c.initText })) : methodExport(tuning, values, metaOf(lm.origin));
    const seconds = (performance.now() - t0) / 1000;
    if (plan && trainSpec && dataset) {
      // The same bundle the tab exports: card, data, split and train_peft.py beside the adapter.
      const run = {
        dataName: dataset.name,
        mapping: dataset.mapping,
        prompt: start.prompt,
        train: trainSpec,
        split: plan.split,
        evalEvery: plan.evalEvery,
        steps: summary.steps,
        rows: dataset.rows,
        testRows: null,
        contextLength: lm.model.config.contextLength,
      };
      const metrics = { finalLoss: summary.finalLoss, bestValLoss: summary.bestValLoss, accuracy: null, trainedOn: `${tf.getBackend()} with the playground CLI` };
      writeFolder(flags.out as string, exportBundle({ name: path.basename(flags.out as string), adapter: exported, baseKind: lm.origin.kind, metrics, run }).files);
    } else writeFolder(flags.out as string, exported.files({}));
    let suiteScore: Record<string, unknown> | null = null;
    if (suite) {
      // The folder just written, read back as eval reads it: the version is scored as it will be served.
      const written = loadCliMethodAdapter(lm, flags.out as string);
      try {
        const s = await scoreSuite(lm, written.tuned, suite, (done, n) => status(`suite ${bar(done / n)} ${done}/${n}`));
        suiteScore = { task: suite.task, hash: suite.hash, rows: s.count, accuracy: s.accuracy, per_label: s.perLabel, loss: s.loss };
      } finally {
        disposeInjection(written.tuned);
        statusDone();
      }
    }
    emit({
      type: 'summary',
      steps: summary.steps,
      stop_reason: summary.stopReason,
      message: summary.message,
      final_loss: summary.finalLoss,
      best_val_loss: summary.bestValLoss,
      seconds,
      step_seconds: summary.steps ? seconds / summary.steps : null,
      out: flags.out,
      method: c.method,
      trainable_values: tuning.size,
      ...report,
      ...(suiteScore ? { suite: suiteScore } : {}),
      ...(start.warnings.length ? { warnings: start.warnings } : {}),
    });
    if (summary.stopReason === 'non_finite') process.exitCode = 3;
  },
};
