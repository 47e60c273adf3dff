// An adapter record of any tuning method: the summary config the Adapters panel lists, its
// export (promptExport for prompt tuning, methodExport for the others), its file size, and its
// injection on the loaded model. Records without a method are prompt tuning (stored before
// methods, or a P-tuning folder imported as its prompt).
import * as tf from '@tensorflow/tfjs-core';
import { baseWarnings, checkAdapterFits, makeAdapter, WEIGHTS_FILE, type PromptAdapter } from '../engine/adapter/adapter.ts';
import { AdapterError, type AdapterConfig } from '../engine/adapter/peft-config.ts';
import type { AdapterMeta } from '../engine/adapter/method-config.ts';
import type { LoadedModel } from '../engine/load.ts';
import { Tuning, type MethodConfig } from '../engine/methods/index.ts';
import { disposeInjection, MethodError, type Injection } from '../engine/methods/method.ts';
import type { CausalLM } from '../engine/models/model.ts';
import { methodExport, promptExport, type ExportedFiles } from '../engine/run/export.ts';
import type { PromptSpec } from '../engine/run/spec.ts';
import type { AdapterRecord } from '../store/records.ts';

/** Whether a record (or a run's method) is prompt tuning's soft prompt. */
export const isPrompt = (method: MethodConfig | null | undefined): boolean => !method || method.method === 'prompt';

/** A MethodError (a config or tensor that does not fit the model) as an AdapterError the page shows. */
export function fits<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof MethodError) throw new AdapterError(e.message);
    throw e;
  }
}

/**
 * The summary config of a non-prompt adapter: prompt tuning's fields filled with what they mean
 * for the method (its virtual tokens, 0 for LoRA; the model's width), so lists need no method switch.
 */
export function summaryConfig(tuning: Tuning, meta: AdapterMeta): AdapterConfig {
  const c = tuning.model.config;
  const c0 = tuning.config;
  return {
    numVirtualTokens: 'numVirtualTokens' in c0 ? c0.numVirtualTokens : 0,
    tokenDim: c.hiddenSize,
    init: 'RANDOM',
    initText: null,
    baseModel: meta.baseModel,
    revision: meta.revision,
    tokenizerName: meta.baseModel,
    numLayers: c.numLayers,
    numAttentionHeads: c.numHeads,
    peftType: tuning.peftType,
  };
}

/** The record fields of trained values: prompt tuning's PEFT config, or the method and its summary. */
export function recordConfig(lm: LoadedModel, method: MethodConfig | null | undefined, values: Float32Array, prompt: PromptSpec): Pick<AdapterRecord, 'config' | 'method'> {
  if (isPrompt(method)) return { config: makeAdapter(values, lm.model.config, lm.origin, prompt).config };
  const tuning = new Tuning(lm.model, method as MethodConfig);
  return { config: summaryConfig(tuning, { baseModel: lm.origin.id, revision: lm.origin.commit ?? (lm.origin.kind === 'hub' ? lm.origin.revision : null) }), method: tuning.config };
}

const peftOf = (a: Pick<AdapterRecord, 'config' | 'prompt'>): PromptAdapter => ({ config: a.config, promptEmbeddings: a.prompt });

/** A record's export: prompt tuning's without a model; any other method's on the loaded model. */
export function exportOf(a: Pick<AdapterRecord, 'config' | 'prompt' | 'method'>, model: CausalLM | null): ExportedFiles {
  if (isPrompt(a.method)) return promptExport(peftOf(a));
  if (!model) throw new AdapterError(`a ${a.method?.method} adapter is written from the loaded model: load its model first`);
  return fits(() => methodExport(new Tuning(model, a.method as MethodConfig), a.prompt, { baseModel: a.config.baseModel, revision: a.config.revision }));
}

/** Bytes of adapter_model.safetensors as exported. */
export function adapterBytes(exported: ExportedFiles): number {
  return exported.files({})[WEIGHTS_FILE].byteLength;
}

/** An adapter on the loaded model, ready for a forward pass: a soft prompt or a method's injection (free it with `dispose`). */
export interface Applied {
  tuned: tf.Tensor2D | Injection;
  warnings: string[];
  /** The soft prompt rows [V, H] the method prepends, when it prepends any (prompt tuning, P-tuning). */
  prompt: tf.Tensor2D | null;
  dispose(): void;
}

export function applyRecord(lm: LoadedModel, a: Pick<AdapterRecord, 'config' | 'prompt' | 'method'>): Applied {
  if (isPrompt(a.method)) {
    const warnings = checkAdapterFits(peftOf(a), lm.model.config, lm.origin);
    const prompt = tf.tensor2d(a.prompt, [a.config.numVirtualTokens, lm.model.config.hiddenSize]);
    return { tuned: prompt, prompt, warnings, dispose: () => prompt.dispose() };
  }
  const injection = fits(() => new Tuning(lm.model, a.method as MethodConfig).injectValues(a.prompt));
  const warnings = baseWarnings(a.config.baseModel, a.config.revision, lm.origin);
  return {
    tuned: injection,
    prompt: injection.prompt,
    warnings,
    dispose: () => disposeInjection(injection),
  };
}
