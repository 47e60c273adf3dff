// Evaluate, try it, inspect: the tab's commands that score or show adapters on the loaded model.
// The scoring is the engine's (evaluateCondition, which the CLI's eval calls too); here are the
// rows a request names, each condition's label, and the accuracy kept with the adapter.
import { AdapterError } from '../engine/adapter/peft-config.ts';
import type { Example } from '../engine/data/examples.ts';
import { generate } from '../engine/generate.ts';
import { inspectPrompt } from '../engine/inspect.ts';
import type { Tuned } from '../engine/prompt/prompted.ts';
import { evaluateCondition, firstExamples, splitRows } from '../engine/run/evaluate.ts';
import * as store from '../store/db.ts';
import type { Adapters } from './adapters.ts';
import { EngineError } from './engine-error.ts';
import { applyRecord, isPrompt } from './method-records.ts';
import type { ModelSession } from './model-session.ts';
import type { EngineEvent, EvalCondition, EvalResult, EvalSet, Evaluation, EvaluateRequest, GenerateRequest, GenerateResult, InspectResult } from './protocol.ts';

/** Top-k of sampled generation in "try it" (transformers' generate default). */
const TOP_K = 50;

function conditionLabel(c: EvalCondition, names: Map<string, string>): string {
  if (c.kind === 'none') return 'no prompt';
  if (c.kind === 'text') return `text prompt "${c.text}"`;
  return `adapter: ${names.get(c.adapterId) ?? c.adapterId}`;
}

/** The rows an evaluation scores: a run's stored held-out rows, or the examples the page gave; and those rows in words. */
async function evalRows(set: EvalSet): Promise<{ examples: Example[]; rows: string; heldOut: boolean; datasetHash: string | null }> {
  if (set.kind === 'examples') {
    const examples = firstExamples(set.examples, set.limit);
    return { examples, rows: `${examples.length < set.examples.length ? `the first ${examples.length} of ` : ''}${set.examples.length} ${set.name}`, heldOut: false, datasetHash: null };
  }
  const run = await store.getRun(set.runId);
  if (!run) throw new EngineError(`run ${set.runId} is not in this browser's storage any more`);
  const dataset = await store.getDataset(run.spec.data.datasetId);
  if (!dataset) throw new EngineError(`the data of run "${run.spec.label}" is no longer in this browser's storage`);
  const part = splitRows(run.split, { hash: dataset.id, rows: dataset.rows, testRows: dataset.testRows }, run.spec.data.mapping, run.spec.data.name, set.part);
  const examples = firstExamples(part.examples, set.limit);
  const of = examples.length < part.examples.length ? `the first ${examples.length} of the ` : '';
  return { examples, rows: `${of}${part.examples.length} ${part.part} rows of ${run.spec.data.name} held out by run "${run.spec.label}"`, heldOut: true, datasetHash: dataset.id };
}

/** Scores each condition on the chosen rows; an adapter's accuracy is kept with the rows it was measured on. */
export async function evaluate(session: ModelSession, adapters: Adapters, req: EvaluateRequest, emit: (e: EngineEvent) => void): Promise<Evaluation> {
  session.need();
  const { examples, rows, heldOut, datasetHash } = await evalRows(req.set);
  if (examples.length === 0) throw new EngineError('there are no examples to evaluate on');
  const results: EvalResult[] = [];
  const names = new Map<string, string>();
  for (const c of req.conditions) {
    const t0 = performance.now();
    let tuned: Tuned = null;
    let dispose = () => {};
    let runId: string | null = null;
    if (c.kind === 'adapter') {
      const a = await adapters.apply(c.adapterId);
      names.set(a.record.id, a.record.name);
      runId = a.record.runId;
      tuned = a.tuned;
      dispose = a.dispose;
    }
    try {
      const label = conditionLabel(c, names);
      const score = await evaluateCondition(session.need(), tuned, examples, {
        textPrefix: c.kind === 'text' ? c.text : undefined,
        labelTask: req.labelTask,
        onProgress: (done, total) => emit({ type: 'task-progress', task: `Evaluating ${label}`, done, total }),
      });
      results.push({ condition: c, label, loss: score.loss, labels: score.labels, seconds: (performance.now() - t0) / 1000 });
      if (c.kind === 'adapter' && score.labels) {
        // Held out only for the adapter whose own run held these rows out of training.
        const own = req.set.kind === 'run' && runId === req.set.runId;
        await adapters.setAccuracy(c.adapterId, { value: score.labels.accuracy, count: examples.length, rows, heldOut: heldOut && own, datasetHash });
      }
    } finally {
      dispose();
    }
  }
  return { results, rows, heldOut, examples };
}

/** "Try it": the model's continuation of an input without and (given an adapter) with its soft prompt. */
export async function tryIt(session: ModelSession, adapters: Adapters, req: GenerateRequest): Promise<GenerateResult> {
  const lm = session.need();
  const t0 = performance.now();
  const ids = lm.tokenizer.encode(req.input);
  const options = { maxNewTokens: req.maxNewTokens, greedy: req.greedy, temperature: req.temperature, topK: TOP_K, seed: req.seed, stopTokenIds: [lm.eosTokenId] };
  const decode = (out: number[]) => lm.tokenizer.decode(out.filter((i) => i !== lm.eosTokenId));
  const without = await generate(lm.model, null, ids, options);
  let withPrompt: number[] | null = null;
  if (req.adapterId) {
    const a = await adapters.apply(req.adapterId);
    try {
      withPrompt = await generate(lm.model, a.tuned, ids, options);
    } finally {
      a.dispose();
    }
  }
  return {
    without: decode(without),
    withoutTokens: without.length,
    withPrompt: withPrompt ? decode(withPrompt) : null,
    withTokens: withPrompt?.length ?? 0,
    seconds: (performance.now() - t0) / 1000,
  };
}

/**
 * Each virtual token of an adapter: its nearest vocabulary tokens, norm and drift from its init.
 * A P-tuning adapter shows the prompt its encoder produces (from its init values too); a prefix or
 * LoRA adapter has no rows in the embedding space to compare with the vocabulary.
 */
export async function inspect(session: ModelSession, adapters: Adapters, adapterId: string, k: number): Promise<InspectResult> {
  const lm = session.need();
  const a = await adapters.get(adapterId);
  if (a.config.tokenDim !== lm.model.config.hiddenSize) throw new AdapterError(`this adapter is ${a.config.tokenDim} wide; the loaded model's hidden size is ${lm.model.config.hiddenSize}`);
  if (isPrompt(a.method)) return inspectPrompt(lm.model, lm.tokenizer, a.prompt, { values: a.initPrompt, ids: a.initIds }, k);
  if (a.method?.method !== 'p_tuning') {
    throw new EngineError(
      a.method?.method === 'lora'
        ? 'A LoRA adapter changes weights (low-rank deltas on projections), not the input: it has no virtual tokens to set beside the vocabulary.'
        : "A prefix lives in every layer's attention keys and values, not in the embedding space: it has no virtual tokens to set beside the vocabulary.",
    );
  }
  // P-tuning: the rows its encoder puts before the input, now and at init.
  const rows = async (values: Float32Array) => {
    const applied = applyRecord(lm, { ...a, prompt: values });
    try {
      return (await (applied.prompt as NonNullable<typeof applied.prompt>).data()) as Float32Array;
    } finally {
      applied.dispose();
    }
  };
  return inspectPrompt(lm.model, lm.tokenizer, await rows(a.prompt), { values: a.initPrompt ? await rows(a.initPrompt) : null, ids: null }, k);
}
