// The LM head and token-mean cross-entropy as one op with a hand-written backward pass:
// logits are formed only for the positions that carry a label, and the backward pass is
// (softmax − one-hot) / N · E, with no gradient for the head matrix.
import * as tf from '@tensorflow/tfjs-core';
import { customOp } from './custom-op.ts';
import { mm } from './matmul.ts';
import type { EmbeddingTable } from '../models/embedding-table.ts';

/** Rows of x [M, H]; the backward pass scatters the gradient back (no gather gradient kernel needed). */
export function gatherRows(x: tf.Tensor2D, rows: Int32Array): tf.Tensor2D {
  const M = x.shape[0];
  const op = customOp<[tf.Tensor]>((input) => ({
    value: tf.gather(input, tf.tensor1d(rows, 'int32')),
    gradFunc: (dy: tf.Tensor) => {
      const scatter = new Float32Array(M * rows.length);
      rows.forEach((r, i) => (scatter[r * rows.length + i] = 1));
      return mm(tf.tensor2d(scatter, [M, rows.length]), dy as tf.Tensor2D);
    },
  }));
  return op(x) as tf.Tensor2D;
}

/**
 * Mean over rows of −log softmax(h · headᵀ)[target], for h [N, H] and head [vocab, H]; with
 * `softcap` the logits are cap · tanh(h · headᵀ / cap) (final_logit_softcapping).
 */
export function lmHeadLoss(h: tf.Tensor2D, head: EmbeddingTable, targets: Int32Array, softcap: number | null = null): tf.Scalar {
  const N = h.shape[0];
  const vocab = head.rows;
  const flat = Int32Array.from(targets, (t, i) => i * vocab + t);
  const op = customOp<[tf.Tensor]>((hi, save) => {
    const scores = head.scores(hi as tf.Tensor2D);
    const t = softcap === null ? null : tf.tanh(tf.div(scores, softcap));
    const logits = t === null ? scores : tf.mul(t, softcap!);
    const lse = tf.logSumExp(logits, 1, true);
    const picked = tf.gather(tf.reshape(logits, [-1]), tf.tensor1d(flat, 'int32'));
    save(t === null ? [logits, lse] : [logits, lse, t]);
    return {
      value: tf.mean(tf.sub(tf.reshape(lse, [-1]), picked)),
      gradFunc: (dy: tf.Tensor, [l, s, tc]: tf.Tensor[]) => {
        const probs = tf.exp(tf.sub(l, s));
        let dlogits = tf.mul(tf.sub(probs, tf.oneHot(tf.tensor1d(targets, 'int32'), vocab)), tf.div(dy, N));
        if (tc) dlogits = tf.mul(dlogits, tf.sub(1, tf.square(tc)));
        return head.scoresBackward(dlogits as tf.Tensor2D);
      },
    };
  });
  return op(h) as tf.Scalar;
}

/** The same loss from precomputed logits [N, vocab] (for the full-logits forward). */
export function crossEntropy(logits: tf.Tensor2D, targets: Int32Array): tf.Scalar {
  const vocab = logits.shape[1];
  const lse = tf.logSumExp(logits, 1);
  const picked = tf.gather(
    tf.reshape(logits, [-1]),
    tf.tensor1d(
      Int32Array.from(targets, (t, i) => i * vocab + t),
      'int32',
    ),
  );
  return tf.mean(tf.sub(lse, picked)) as tf.Scalar;
}
