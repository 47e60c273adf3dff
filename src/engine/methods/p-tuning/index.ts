// P-tuning (PEFT's PromptEncoderConfig / PromptEncoder): the V virtual tokens are the output of
// a small encoder over a learned embedding [V, H], prepended to the input embeddings like a soft
// prompt.
//   MLP:  Linear(H, E) → ReLU → Linear(E, E) → ReLU → Linear(E, H)  (encoder_num_layers is ignored, as in PEFT)
//   LSTM: a bidirectional LSTM (hidden E, encoder_num_layers layers, batch_first, encoder_dropout
//         between layers) over the V rows, then Linear(2E, 2E) → ReLU → Linear(2E, H).
// E (encoder_hidden_size) defaults to H. PEFT saves only the encoder's output as prompt_embeddings
// [V, H] (what inference needs); the engine keeps the encoder's weights in its own runs and
// checkpoints, so a run resumes here but not in PEFT.
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../../random.ts';
import type { Dropout } from '../../ops/dropout.ts';
import { MethodError, splitValues, type Injection, type ParamSpec, type TuningMethod } from '../method.ts';
import { checkVirtualTokens, PROMPT_KEY, promptTensor } from '../prompt-tuning/index.ts';
import { concatValues, linearInit, standardNormal, uniform } from '../torch-init.ts';
import type { CausalLM } from '../../models/model.ts';

export type EncoderType = 'MLP' | 'LSTM';

export interface PTuningConfig {
  numVirtualTokens: number;
  encoderType: EncoderType;
  /** E; null: the model's hidden size (PEFT's default). */
  encoderHiddenSize: number | null;
  /** LSTM layers (PEFT's default 2); ignored by MLP. */
  encoderNumLayers: number;
  /** Dropout between LSTM layers in training (PEFT's default 0). */
  encoderDropout: number;
}

const P = 'prompt_encoder.default.';
const sizeOf = (model: CausalLM, c: PTuningConfig) => c.encoderHiddenSize ?? model.config.hiddenSize;

/** The LSTM's parameters as torch.nn.LSTM names them, per layer: forward direction, then _reverse. */
function lstmParams(H: number, E: number, layers: number): ParamSpec[] {
  const out: ParamSpec[] = [];
  for (let l = 0; l < layers; l++) {
    const inp = l === 0 ? H : 2 * E;
    for (const dir of ['', '_reverse']) {
      out.push(
        { name: `${P}lstm_head.weight_ih_l${l}${dir}`, shape: [4 * E, inp] },
        { name: `${P}lstm_head.weight_hh_l${l}${dir}`, shape: [4 * E, E] },
        { name: `${P}lstm_head.bias_ih_l${l}${dir}`, shape: [4 * E] },
        { name: `${P}lstm_head.bias_hh_l${l}${dir}`, shape: [4 * E] },
      );
    }
  }
  return out;
}

/** Linear layer y = x Wᵀ + b (torch's layout, W [out, in]). */
const dense = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.add(tf.matMul(x, w, false, true), b);

/**
 * One direction of one LSTM layer over x [V, in]: torch's gates i, f, g, o from
 * x Wihᵀ + bih + h Whhᵀ + bhh; c = f c + i g; h = o tanh(c). Returns the hidden states [V, E].
 */
function lstmDirection(x: tf.Tensor2D, [wih, whh, bih, bhh]: tf.Tensor[], reverse: boolean): tf.Tensor2D {
  const V = x.shape[0];
  const E = whh.shape[1]!;
  const xs = tf.add(dense(x, wih, bih), bhh); // [V, 4E]: the input's share of every step's gates
  let h: tf.Tensor = tf.zeros([1, E]);
  let c: tf.Tensor = tf.zeros([1, E]);
  const outs: tf.Tensor[] = new Array<tf.Tensor>(V);
  for (let s = 0; s < V; s++) {
    const t = reverse ? V - 1 - s : s;
    const gates = tf.add(tf.slice(xs, [t, 0], [1, 4 * E]), tf.matMul(h, whh, false, true));
    const [i, f, g, o] = tf.split(gates, 4, 1);
    c = tf.add(tf.mul(tf.sigmoid(f), c), tf.mul(tf.sigmoid(i), tf.tanh(g)));
    h = tf.mul(tf.sigmoid(o), tf.tanh(c));
    outs[t] = h;
  }
  return tf.concat(outs, 0) as tf.Tensor2D;
}

/** The encoder's output [V, H] from the trainable tensors (PromptEncoder.forward). */
function encode(c: PTuningConfig, tensors: tf.Tensor[], drop?: Dropout): tf.Tensor2D {
  const [emb, ...rest] = tensors;
  if (c.encoderType === 'MLP') {
    const [w0, b0, w2, b2, w4, b4] = rest;
    return dense(tf.relu(dense(tf.relu(dense(emb, w0, b0)), w2, b2)), w4, b4) as tf.Tensor2D;
  }
  let x = emb as tf.Tensor2D;
  for (let l = 0; l < c.encoderNumLayers; l++) {
    const w = rest.slice(l * 8, l * 8 + 8);
    // torch.nn.LSTM applies its dropout to every layer's output but the last (training only).
    if (l > 0) {
      const m = drop?.mask(x.shape, c.encoderDropout) ?? null;
      if (m) x = tf.mul(x, m) as tf.Tensor2D;
    }
    x = tf.concat([lstmDirection(x, w.slice(0, 4), false), lstmDirection(x, w.slice(4, 8), true)], 1) as tf.Tensor2D;
  }
  const [m0w, m0b, m2w, m2b] = rest.slice(c.encoderNumLayers * 8);
  return dense(tf.relu(dense(x, m0w, m0b)), m2w, m2b) as tf.Tensor2D;
}

export const pTuning: TuningMethod<PTuningConfig> = {
  peftType: 'P_TUNING',
  check(model, c) {
    checkVirtualTokens(model, c.numVirtualTokens);
    if (c.encoderType !== 'MLP' && c.encoderType !== 'LSTM') throw new MethodError(`encoder_reparameterization_type must be MLP or LSTM, got ${JSON.stringify(c.encoderType)}`);
    if (c.encoderHiddenSize !== null && (!Number.isInteger(c.encoderHiddenSize) || c.encoderHiddenSize <= 0))
      throw new MethodError(`encoder_hidden_size must be a positive integer, got ${c.encoderHiddenSize}`);
    if (!Number.isInteger(c.encoderNumLayers) || c.encoderNumLayers <= 0) throw new MethodError(`encoder_num_layers must be a positive integer, got ${c.encoderNumLayers}`);
    if (!(c.encoderDropout >= 0 && c.encoderDropout < 1)) throw new MethodError(`encoder_dropout must be in [0, 1), got ${c.encoderDropout}`);
  },
  params(model, c) {
    const H = model.config.hiddenSize;
    const E = sizeOf(model, c);
    const emb: ParamSpec = { name: P + 'embedding.weight', shape: [c.numVirtualTokens, H] };
    const lin = (i: number, out: number, inp: number): ParamSpec[] => [
      { name: `${P}mlp_head.${i}.weight`, shape: [out, inp] },
      { name: `${P}mlp_head.${i}.bias`, shape: [out] },
    ];
    if (c.encoderType === 'MLP') return [emb, ...lin(0, E, H), ...lin(2, E, E), ...lin(4, H, E)];
    return [emb, ...lstmParams(H, E, c.encoderNumLayers), ...lin(0, 2 * E, 2 * E), ...lin(2, H, 2 * E)];
  },
  async init({ model, seed }, c) {
    const rng = new Rng(seed);
    const H = model.config.hiddenSize;
    const E = sizeOf(model, c);
    const emb = standardNormal(rng, c.numVirtualTokens * H);
    const lin = (out: number, inp: number) => {
      const { weight, bias } = linearInit(rng, out, inp);
      return [weight, bias];
    };
    if (c.encoderType === 'MLP') return concatValues([emb, ...lin(E, H), ...lin(E, E), ...lin(H, E)]);
    // nn.LSTM initialises every weight and bias from U(±1/sqrt(hidden)).
    const lstm = lstmParams(H, E, c.encoderNumLayers).map((p) =>
      uniform(
        rng,
        p.shape.reduce((a, b) => a * b, 1),
        1 / Math.sqrt(E),
      ),
    );
    return concatValues([emb, ...lstm, ...lin(2 * E, 2 * E), ...lin(H, 2 * E)]);
  },
  inject: (_model, c, tensors, drop?: Dropout): Injection => ({ prompt: encode(c, tensors, drop), prefix: null, lora: null }),
  save(model, c, values) {
    const data = tf.tidy(() => encode(c, splitValues(tf.tensor1d(values), this.params(model, c))).dataSync() as Float32Array);
    return { [PROMPT_KEY]: { shape: [c.numVirtualTokens, model.config.hiddenSize], data } };
  },
  // PEFT keeps only the encoder's output: in inference it is a soft prompt.
  fromSaved: (model, c, saved) => ({
    config: { method: 'prompt', numVirtualTokens: c.numVirtualTokens, init: 'RANDOM', initText: null },
    values: promptTensor(saved, [c.numVirtualTokens, model.config.hiddenSize]).data,
  }),
  virtualTokens: (c) => c.numVirtualTokens,
  contextTokens: (c) => c.numVirtualTokens,
};
