// AdamW with torch.optim.AdamW's exact update order (decoupled weight decay first, then the
// bias-corrected Adam step), so trained prompts match PyTorch within float32 rounding.
import * as tf from '@tensorflow/tfjs-core';

export interface AdamWConfig {
  betas: [number, number];
  eps: number;
  weightDecay: number;
}

export const TORCH_ADAMW: AdamWConfig = { betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01 };

export interface AdamWState {
  step: number;
  m: Float32Array;
  v: Float32Array;
}

export class AdamW {
  step = 0;
  private readonly m: tf.Variable;
  private readonly v: tf.Variable;

  constructor(
    shape: number[],
    private readonly config: AdamWConfig = TORCH_ADAMW,
    state?: AdamWState,
  ) {
    this.m = tf.variable(state ? tf.tensor(state.m, shape) : tf.zeros(shape), false);
    this.v = tf.variable(state ? tf.tensor(state.v, shape) : tf.zeros(shape), false);
    this.step = state?.step ?? 0;
  }

  /** One update of `param` in place with learning rate `lr`. */
  apply(param: tf.Variable, grad: tf.Tensor, lr: number): void {
    const [b1, b2] = this.config.betas;
    this.step += 1;
    const bc1 = 1 - b1 ** this.step;
    const bc2Sqrt = Math.sqrt(1 - b2 ** this.step);
    tf.tidy(() => {
      const decayed = tf.mul(param, 1 - lr * this.config.weightDecay);
      const m = tf.add(this.m, tf.mul(tf.sub(grad, this.m), 1 - b1)); // torch's lerp_
      const v = tf.add(tf.mul(this.v, b2), tf.mul(tf.square(grad), 1 - b2));
      const denom = tf.add(tf.div(tf.sqrt(v), bc2Sqrt), this.config.eps);
      this.m.assign(m);
      this.v.assign(v);
      param.assign(tf.sub(decayed, tf.mul(tf.div(m, denom), lr / bc1)));
    });
  }

  async state(): Promise<AdamWState> {
    return { step: this.step, m: (await this.m.data()) as Float32Array, v: (await this.v.data()) as Float32Array };
  }

  dispose(): void {
    this.m.dispose();
    this.v.dispose();
  }
}
