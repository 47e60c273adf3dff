import { readFileSync } from 'node:fs';
import { adapterFiles, makeAdapter } from '../../engine/adapter/adapter.ts';
import { buildTrainingSet } from '../../engine/data/training-set.ts';
import type { LoadedModel } from '../../engine/load.ts';
import { batchFromJson, validateBatch, type Batch } from '../../engine/prompt/batch.ts';
import { initSoftPrompt, parseInitKind, type InitKind } from '../../engine/prompt/init.ts';
import { PromptTrainer, type TrainData, type TrainOptions } from '../../engine/train/trainer.ts';
import { writeFolder } from '../../node/adapter-folder.ts';
import { ADAPTER_FLAG, DATA_FLAGS, DEFAULT_TRAIN_DATA, loadCliAdapter, loadCliModel, MODEL_FLAG, readExamples } from '../context.ts';
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
    Object.entries({ lr: num('lr'), weightDecay: num('weight_decay'), eps: num('eps'), warmupSteps: num('num_warmup_steps'), betas, totalSteps: num('num_training_steps') }).filter(([, v]) => v !== undefined),
  );
  return { batches, defaults };
}

async function startingPrompt(lm: LoadedModel, flags: ParsedFlags): Promise<{ values: Float32Array; V: number; init: InitKind; initText: string | null; warnings: string[] }> {
  if (flags.adapter) {
    const a = loadCliAdapter(lm, flags.adapter as string);
    a.prompt.dispose();
    const c = a.adapter.config;
    return { values: a.adapter.promptEmbeddings, V: c.numVirtualTokens, init: c.init, initText: c.initText, warnings: a.warnings };
  }
  const init = parseInitKind(flags.init as string);
  const initText = init === 'TEXT' ? (flags['init-text'] as string) : null;
  const p = await initSoftPrompt(lm.model, lm.tokenizer, { kind: init, text: initText, numVirtualTokens: flags['virtual-tokens'] as number, seed: flags.seed as number });
  return { values: p.values, V: p.numVirtualTokens, init, initText, warnings: [] };
}

export const train: Command = {
  spec: {
    name: 'train',
    summary: 'Prompt-tune: train a soft prompt (AdamW, linear schedule) and write a PEFT adapter.',
    usage: 'train --model M (--data FILE [--template T] | --batches FILE.json) [--adapter DIR | --init ... --virtual-tokens V] [options] --out DIR',
    flags: [
      MODEL_FLAG,
      { name: 'data', type: 'string', help: `JSONL or CSV training data (text+label or prompt+completion); without --data or --batches, ${DEFAULT_TRAIN_DATA}` },
      ...DATA_FLAGS,
      { name: 'batches', type: 'string', help: 'pre-tokenized batches (SPEC.md train form), stepped through in order' },
      ADAPTER_FLAG,
      ...INIT_FLAGS,
      { name: 'lr', type: 'number', help: 'peak learning rate', default: 3e-2 },
      { name: 'epochs', type: 'int', help: 'passes over the data', default: 3 },
      { name: 'batch-size', type: 'int', help: 'examples per step', default: 8 },
      { name: 'max-length', type: 'int', help: 'longest example in tokens, virtual tokens excluded (longer ones are truncated and counted)' },
      { name: 'warmup-steps', type: 'int', help: 'linear warmup steps', default: 0 },
      { name: 'weight-decay', type: 'number', help: 'AdamW decoupled weight decay', default: 0.01 },
      { name: 'val-split', type: 'number', help: 'fraction of --data held out for validation', default: 0.1 },
      { name: 'patience', type: 'int', help: 'stop after N evaluations without a better validation loss (0: off)', default: 0 },
      { name: 'eval-every', type: 'int', help: 'validate every N steps (default: every epoch)' },
      { name: 'max-steps', type: 'int', help: 'stop after N steps' },
      { name: 'sync-every', type: 'int', help: 'read the loss back every N steps', default: 1 },
      { name: 'no-dropout', type: 'boolean', help: "train without the model config's dropout (transformers applies it in training mode; seeded by --seed)" },
      { name: 'out', type: 'string', help: 'adapter folder to write', required: true },
    ],
  },
  async run(flags) {
    if (flags.data && flags.batches) throw new UsageError('train: give --data or --batches, not both');
    if (!flags.data && !flags.batches) flags.data = DEFAULT_TRAIN_DATA;
    const lm = await loadCliModel(flags.model as string);
    const start = await startingPrompt(lm, flags);
    const given = (k: string) => process.argv.includes(`--${k}`) || process.argv.some((a) => a.startsWith(`--${k}=`));
    let data: TrainData;
    let report: Record<string, unknown> = {};
    let fileDefaults: Partial<TrainOptions> & { totalSteps?: number } = {};
    if (flags.batches) {
      const { batches, defaults } = readBatchFile(flags.batches as string, lm.model.config.vocabSize);
      fileDefaults = defaults;
      const epochs = given('epochs') ? (flags.epochs as number) : 1;
      data = { epochs, stepsPerEpoch: batches.length, batchesForEpoch: () => batches, valBatches: [] };
    } else {
      const { examples, mapping } = readExamples(flags.data as string, flags);
      const set = buildTrainingSet(lm.tokenizer, examples, lm.eosTokenId, lm.padTokenId, {
        numVirtualTokens: start.V,
        contextLength: lm.model.config.contextLength,
        maxLength: (flags['max-length'] as number | undefined) ?? null,
        batchSize: flags['batch-size'] as number,
        epochs: flags.epochs as number,
        valSplit: flags['val-split'] as number,
        seed: flags.seed as number,
      });
      data = set.data;
      report = { task: mapping.kind, template: mapping.template, train_examples: set.train.length, val_examples: set.val.length, max_length: set.maxLength, truncated: set.stats.train.truncated + set.stats.val.truncated, lengths: set.stats };
      if (set.stats.train.truncated + set.stats.val.truncated > 0) process.stderr.write(`warning: ${set.stats.train.truncated + set.stats.val.truncated} example(s) were longer than ${set.maxLength} tokens and were truncated\n`);
    }
    const pick = <K extends keyof TrainOptions>(flag: string, key: K): TrainOptions[K] => (given(flag) || fileDefaults[key] === undefined ? flags[flag] : fileDefaults[key]) as TrainOptions[K];
    const trainer = new PromptTrainer(lm.model, start.values, start.V, data, {
      lr: pick('lr', 'lr'),
      epochs: data.epochs,
      warmupSteps: pick('warmup-steps', 'warmupSteps'),
      weightDecay: pick('weight-decay', 'weightDecay'),
      ...(fileDefaults.betas ? { betas: fileDefaults.betas } : {}),
      ...(fileDefaults.eps !== undefined ? { eps: fileDefaults.eps } : {}),
      patience: (flags.patience as number) || null,
      evalEvery: (flags['eval-every'] as number | undefined) ?? null,
      maxSteps: (flags['max-steps'] as number | undefined) ?? null,
      syncEvery: flags['sync-every'] as number,
      dropout: !flags['no-dropout'],
      seed: (flags.seed as number | undefined) ?? 0,
    });
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
    writeFolder(flags.out as string, adapterFiles(makeAdapter(values, lm.model.config, lm.origin, { kind: start.init, text: start.initText })));
    const seconds = (performance.now() - t0) / 1000;
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
      ...report,
      ...(start.warnings.length ? { warnings: start.warnings } : {}),
    });
    if (summary.stopReason === 'non_finite') process.exitCode = 3;
  },
};
