// The PEFT prompt-tuning wrapper around any CausalLM (PeftModelForCausalLM with PROMPT_TUNING):
// embeddings = concat(prompt, embed(ids)), V ones prepended to the mask, V -100s to the labels,
// positions over the whole sequence, token-mean cross-entropy of logits[i] against labels[i + 1].
import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM, ForwardOptions } from '../models/model.ts';
import { crossEntropy, gatherRows, lmHeadLoss } from '../ops/lm-loss.ts';
import { tidy } from '../tidy.ts';
import { BatchError, IGNORE_INDEX, type Batch } from './batch.ts';

/** Input embeddings [B, V + T, H] and mask [B][V + T] with the soft prompt (or none) in front. */
export function promptedInputs(model: CausalLM, prompt: tf.Tensor2D | null, inputIds: number[][], attentionMask: number[][]): { embeds: tf.Tensor3D; mask: number[][] } {
  const B = inputIds.length;
  const tokens = model.embed(inputIds);
  if (!prompt) return { embeds: tokens, mask: attentionMask };
  const V = prompt.shape[0];
  const prompts = tf.tile(tf.expandDims(prompt, 0), [B, 1, 1]);
  return {
    embeds: tf.concat([prompts, tokens], 1) as tf.Tensor3D,
    mask: attentionMask.map((row) => [...new Array<number>(V).fill(1), ...row]),
  };
}

/**
 * Positions whose logits carry a loss: flat row index b * S + i for every i where the
 * (prompt-extended) label at i + 1 is not -100, with that label as the target.
 */
export function labelPositions(labels: number[][], numVirtualTokens: number): { rows: Int32Array; targets: Int32Array } {
  const rows: number[] = [];
  const targets: number[] = [];
  const S = numVirtualTokens + labels[0].length;
  labels.forEach((row, b) => {
    for (let t = 0; t < row.length; t++) {
      // label at sequence position V + t is predicted by the logits at V + t - 1
      if (row[t] === IGNORE_INDEX) continue;
      const from = numVirtualTokens + t - 1;
      if (from < 0) continue; // the first position of a prompt-less row predicts nothing
      rows.push(b * S + from);
      targets.push(row[t]);
    }
  });
  return { rows: Int32Array.from(rows), targets: Int32Array.from(targets) };
}

/** The loss of the prompted model on a batch, with the LM head run only where a label is. `forward.dropout`: a training step. */
export function promptLoss(model: CausalLM, prompt: tf.Tensor2D | null, batch: Batch, forward: ForwardOptions = {}): tf.Scalar {
  const V = prompt ? prompt.shape[0] : 0;
  const { rows, targets } = labelPositions(batch.labels, V);
  if (rows.length === 0) throw new BatchError('batch has no label that is not -100: there is nothing to take a loss on');
  const { embeds, mask } = promptedInputs(model, prompt, batch.inputIds, batch.attentionMask);
  const { hidden } = model.forward(embeds, mask, forward);
  const H = hidden.shape[2];
  const picked = gatherRows(tf.reshape(hidden, [-1, H]) as tf.Tensor2D, rows);
  return lmHeadLoss(picked, model.head, targets, model.logitSoftcap ?? null);
}

/** Full logits [B, V + T, vocab] and the loss, as PeftModelForCausalLM returns them. */
export function promptForward(model: CausalLM, prompt: tf.Tensor2D | null, batch: Batch): { logits: tf.Tensor3D; loss: tf.Scalar | null } {
  return tidy(() => {
    const V = prompt ? prompt.shape[0] : 0;
    const { embeds, mask } = promptedInputs(model, prompt, batch.inputIds, batch.attentionMask);
    const { hidden } = model.forward(embeds, mask);
    const [B, S, H] = hidden.shape;
    const flat = model.logits(tf.reshape(hidden, [B * S, H]) as tf.Tensor2D);
    const { rows, targets } = labelPositions(batch.labels, V);
    const loss = rows.length ? crossEntropy(tf.gather(flat, tf.tensor1d(rows, 'int32')) as tf.Tensor2D, targets) : null;
    return { logits: tf.reshape(flat, [B, S, flat.shape[1]]) as tf.Tensor3D, loss };
  });
}

/** Loss and d loss / d prompt; no gradient is taken for any weight. `forward.dropout`: a training step's dropout. */
export function lossAndGradient(model: CausalLM, prompt: tf.Tensor2D, batch: Batch, forward: ForwardOptions = {}): { loss: tf.Scalar; grad: tf.Tensor2D } {
  const { value, grad } = tf.valueAndGrad((p: tf.Tensor) => promptLoss(model, p as tf.Tensor2D, batch, forward))(prompt);
  return { loss: value as tf.Scalar, grad: grad as tf.Tensor2D };
}
