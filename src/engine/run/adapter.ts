// An adapter applied to the loaded model: checked against it, then its prompt as the tensor the
// forward pass prepends. The worker (try it, evaluate) and the CLI (--adapter) both call this.
import * as tf from '@tensorflow/tfjs-core';
import { checkAdapterFits, type PromptAdapter } from '../adapter/adapter.ts';
import type { LoadedModel } from '../load.ts';

export interface AppliedAdapter {
  /** [V, H]; the caller disposes it. */
  prompt: tf.Tensor2D;
  /** Another base model or revision (a wrong width throws instead). */
  warnings: string[];
}

export function applyAdapter(lm: LoadedModel, adapter: PromptAdapter): AppliedAdapter {
  const warnings = checkAdapterFits(adapter, lm.model.config, lm.origin);
  return { prompt: tf.tensor2d(adapter.promptEmbeddings, [adapter.config.numVirtualTokens, lm.model.config.hiddenSize]), warnings };
}
