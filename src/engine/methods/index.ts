// The methods by name, and a method bound to a model and its config: what the trainer, the
// evaluation, the adapter files and the CLI work with, whichever method it is.
import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM } from '../models/model.ts';
import type { Dropout } from '../ops/dropout.ts';
import type { TextTokenizer } from '../tokenizer.ts';
import { injectionTensors, paramCount, splitValues, type Injection, type NamedTensor, type ParamSpec, type PeftType, type TuningMethod } from './method.ts';
import { promptTuning, type PromptTuningConfig } from './prompt-tuning/index.ts';
import { prefixTuning, type PrefixTuningConfig } from './prefix-tuning/index.ts';
import { pTuning, type PTuningConfig } from './p-tuning/index.ts';
import { lora, type LoraConfig } from './lora/index.ts';

export type MethodConfig = ({ method: 'prompt' } & PromptTuningConfig) | ({ method: 'prefix' } & PrefixTuningConfig) | ({ method: 'p_tuning' } & PTuningConfig) | ({ method: 'lora' } & LoraConfig);

export type MethodName = MethodConfig['method'];

export const METHODS: { [K in MethodName]: TuningMethod<Extract<MethodConfig, { method: K }>> } = {
  prompt: promptTuning,
  prefix: prefixTuning,
  p_tuning: pTuning,
  lora,
};

export const METHOD_NAMES = Object.keys(METHODS) as MethodName[];

/** The method name of a PEFT peft_type. */
export function methodOfPeftType(peftType: PeftType): MethodName {
  return METHOD_NAMES.find((m) => METHODS[m].peftType === peftType)!;
}

/** A method with its config on one model: its tensors, init, injection and saved files. */
export class Tuning {
  readonly method: TuningMethod<MethodConfig>;
  readonly params: ParamSpec[];

  constructor(
    readonly model: CausalLM,
    readonly config: MethodConfig,
  ) {
    this.method = METHODS[config.method] as TuningMethod<MethodConfig>;
    this.method.check(model, config);
    this.params = this.method.params(model, config);
  }

  get peftType(): PeftType {
    return this.method.peftType;
  }

  /** Number of trainable values. */
  get size(): number {
    return paramCount(this.params);
  }

  /** Rows prepended to every sequence (prompt tuning, P-tuning). */
  get virtualTokens(): number {
    return this.method.virtualTokens(this.config);
  }

  /** Positions taken from the model's context (virtual tokens or a prefix). */
  get contextTokens(): number {
    return this.method.contextTokens(this.config);
  }

  init(tokenizer: TextTokenizer | null, seed: number): Promise<Float32Array> {
    return this.method.init({ model: this.model, tokenizer, seed }, this.config);
  }

  /** The injection of the flat values [N] (differentiable: use inside a tidy or a gradient). */
  inject(values: tf.Tensor1D, drop?: Dropout): Injection {
    return this.method.inject(this.model, this.config, splitValues(values, this.params), drop);
  }

  /** PEFT's saved tensors from the flat values. */
  save(values: Float32Array): Record<string, NamedTensor> {
    if (values.length !== this.size) throw new Error(`${this.config.method}: ${values.length} values, the method's tensors hold ${this.size}`);
    return this.method.save(this.model, this.config, values);
  }

  /** PEFT's saved tensors as a method and its values (the saved form: see TuningMethod.fromSaved). */
  fromSaved(saved: Record<string, NamedTensor>): { tuning: Tuning; values: Float32Array } {
    const form = this.method.fromSaved(this.model, this.config, saved);
    return { tuning: new Tuning(this.model, form.config), values: form.values };
  }

  /** The injection of PEFT's saved tensors, for inference (free it with disposeInjection). */
  load(saved: Record<string, NamedTensor>): Injection {
    const { tuning, values } = this.fromSaved(saved);
    return tuning.injectValues(values);
  }

  /** The injection of flat values, made once (outside any gradient) and kept until disposeInjection. */
  injectValues(values: Float32Array): Injection {
    return tf.tidy(() => {
      const inj = this.inject(tf.tensor1d(values));
      // tf.tidy keeps what it returns but does not look inside the LoRA Maps: keep every tensor explicitly.
      for (const t of injectionTensors(inj)) tf.keep(t);
      return inj as unknown as tf.TensorContainer;
    }) as unknown as Injection;
  }
}
