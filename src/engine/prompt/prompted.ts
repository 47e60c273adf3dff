// The PEFT wrapper around any CausalLM (PeftModelForCausalLM), for every tuning method through
// its Injection (methods/method.ts): a prompt is prepended to the embeddings (V ones prepended to
// the mask, V -100s to the labels, positions over the whole sequence); a prefix enters as past
// keys/values (P ones prepended to the mask, positions from P, labels as they are); LoRA factors
// go to the blocks. The loss is the token-mean cross-entropy of logits[i] against labels[i + 1].
import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM, ForwardOptions } from '../models/model.ts';
import type { Injection } from '../methods/method.ts';
import { crossEntropy, gatherRows, lmHeadLoss } from '../ops/lm-loss.ts';
import { tidy } from '../tidy.ts';
import { BatchError, IGNORE_INDEX, type Batch } from './batch.ts';

/** A soft prompt [V, H] (prompt tuning), any method's injection, or nothing (the base model). */
export type Tuned = tf.Tensor2D | Injection | null;

const isInjection = (t: Tuned): t is Injection => t !== null && !(t instanceof tf.Tensor);

/** The injection of a Tuned (a bare prompt is prompt tuning's). */
export function injectionOf(t: Tuned): Injection {
  if (isInjection(t)) return t;
  return { prompt: t, prefix: null, lora: null };
}

/** Rows the tuned model prepends to every sequence (the prompt's V; 0 for a prefix, LoRA or none). */
export function prependedTokens(t: Tuned): number {
  return injectionOf(t).prompt?.shape[0] ?? 0;
}

/** Positions the tuned model takes from the context: prepended rows and a prefix's keys. */
export function contextTokensOf(t: Tuned): number {
  const { prefix } = injectionOf(t);
  return prependedTokens(t) + (prefix ? prefix.keys[0].shape[2] : 0);
}

/**
 * Input embeddings [B, V + T, H], mask [B][(P +) V + T] and forward options for ids [B][T] with
 * the method's injection. `forward` (dropout, ...) is kept and extended.
 */
export function promptedInputs(
  model: CausalLM,
  tuned: Tuned,
  inputIds: number[][],
  attentionMask: number[][],
  forward: ForwardOptions = {},
): { embeds: tf.Tensor3D; mask: number[][]; forward: ForwardOptions } {
  const { prompt, prefix, lora } = injectionOf(tuned);
  const B = inputIds.length;
  const tokens = model.embed(inputIds);
  let embeds = tokens;
  let mask = attentionMask;
  const options: ForwardOptions = { ...forward };
  if (prompt) {
    const V = prompt.shape[0];
    embeds = tf.concat([tf.tile(tf.expandDims(prompt, 0), [B, 1, 1]), tokens], 1) as tf.Tensor3D;
    mask = mask.map((row) => [...new Array<number>(V).fill(1), ...row]);
  }
  if (prefix) {
    const P = prefix.keys[0].shape[2];
    const tileB = (t: tf.Tensor4D) => (B === 1 ? t : (tf.tile(t, [B, 1, 1, 1]) as tf.Tensor4D));
    options.prefix = { keys: prefix.keys.map(tileB), values: prefix.values.map(tileB) };
    mask = mask.map((row) => [...new Array<number>(P).fill(1), ...row]);
  }
  if (lora) options.lora = lora;
  return { embeds, mask, forward: options };
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

/** The loss of the tuned model on a batch, with the LM head run only where a label is. `forward.dropout`: a training step. */
export function promptLoss(model: CausalLM, tuned: Tuned, batch: Batch, forward: ForwardOptions = {}): tf.Scalar {
  const { rows, targets } = labelPositions(batch.labels, prependedTokens(tuned));
  if (rows.length === 0) throw new BatchError('batch has no label that is not -100: there is nothing to take a loss on');
  const inputs = promptedInputs(model, tuned, batch.inputIds, batch.attentionMask, forward);
  const { hidden } = model.forward(inputs.embeds, inputs.mask, inputs.forward);
  const H = hidden.shape[2];
  const picked = gatherRows(tf.reshape(hidden, [-1, H]) as tf.Tensor2D, rows);
  return lmHeadLoss(picked, model.head, targets, model.logitSoftcap ?? null);
}

/** Full logits [B, V + T, vocab] (V: prepended rows) and the loss, as PeftModelForCausalLM returns them. */
export function promptForward(model: CausalLM, tuned: Tuned, batch: Batch): { logits: tf.Tensor3D; loss: tf.Scalar | null } {
  return tidy(() => {
    const V = prependedTokens(tuned);
    const inputs = promptedInputs(model, tuned, batch.inputIds, batch.attentionMask);
    const { hidden } = model.forward(inputs.embeds, inputs.mask, inputs.forward);
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
