// The tuning methods behind one interface, as PEFT keeps each in tuners/<method>/: a config, the
// trainable tensors (named as PEFT's named_parameters), their init, how they enter the forward
// pass, and the tensors PEFT saves. Every method's trainable values travel as one flat
// Float32Array in `params` order (the trainer, AdamW, checkpoints and the store see only that):
// AdamW is elementwise with one step count, so one flat vector updates exactly as PyTorch's
// per-parameter AdamW does.
import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM } from '../models/model.ts';
import type { LoraFactors } from '../ops/lora.ts';
import type { Dropout } from '../ops/dropout.ts';
import type { TextTokenizer } from '../tokenizer.ts';
import type { MethodConfig } from './index.ts';

export type PeftType = 'PROMPT_TUNING' | 'PREFIX_TUNING' | 'P_TUNING' | 'LORA';

/** What a method puts into a forward pass; absent parts are null. */
export interface Injection {
  /** Rows [V, H] prepended to the input embeddings (prompt tuning, P-tuning). */
  prompt: tf.Tensor2D | null;
  /** Per layer keys and values [1, kvHeads, P, headDim] every block attends to first (prefix tuning). */
  prefix: { keys: tf.Tensor4D[]; values: tf.Tensor4D[] } | null;
  /** Per layer LoRA factors by module key. */
  lora: ReadonlyMap<string, LoraFactors>[] | null;
}

export const NO_INJECTION: Injection = { prompt: null, prefix: null, lora: null };

/** A method config and its flat values. */
export interface SavedForm {
  config: MethodConfig;
  values: Float32Array;
}

export interface ParamSpec {
  /** PEFT's named_parameters() name (LoRA: base_model.model.<module>.lora_A.weight). */
  name: string;
  shape: number[];
}

/** A tensor as stored in a safetensors file. */
export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

export class MethodError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MethodError';
  }
}

export interface InitContext {
  model: CausalLM;
  tokenizer: TextTokenizer | null;
  seed: number;
}

export interface TuningMethod<C> {
  readonly peftType: PeftType;
  /** Checks a config against the model (a MethodError naming the field when it does not fit). */
  check(model: CausalLM, config: C): void;
  /** The trainable tensors, in the order of the flat values. */
  params(model: CausalLM, config: C): ParamSpec[];
  /** Initial values with PEFT's init (seeded by ctx.seed, distributions as PyTorch's). */
  init(ctx: InitContext, config: C): Promise<Float32Array>;
  /**
   * From the trainable tensors (shaped as `params`), what enters the forward pass; differentiable.
   * `drop`: a training step's dropout, for dropout the method itself applies (LoRA, the LSTM encoder).
   */
  inject(model: CausalLM, config: C, tensors: tf.Tensor[], drop?: Dropout): Injection;
  /** The tensors PEFT's save_pretrained writes (adapter_model.safetensors), from trained values. */
  save(model: CausalLM, config: C, values: Float32Array): Record<string, NamedTensor>;
  /**
   * PEFT's saved tensors as the values of the method whose trainable tensors they are exactly
   * (PEFT's inference_mode): itself, or a projected prefix's plain prefix, or P-tuning's output
   * as a soft prompt. Shapes are checked against the model.
   */
  fromSaved(model: CausalLM, config: C, saved: Record<string, NamedTensor>): SavedForm;
  /** Positions the method prepends to the token sequence (prompt tuning, P-tuning); 0 otherwise. */
  virtualTokens(config: C): number;
  /** Positions the method takes from the model's context: virtual tokens, or a prefix's keys (which shift the positions). */
  contextTokens(config: C): number;
}

/** Total number of values of the params. */
export function paramCount(params: ParamSpec[]): number {
  return params.reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
}

/** The flat values [N] as the params' tensors (slices of it, so gradients flow back to it). */
export function splitValues(values: tf.Tensor1D, params: ParamSpec[]): tf.Tensor[] {
  const sizes = params.map((p) => p.shape.reduce((a, b) => a * b, 1));
  const total = sizes.reduce((a, b) => a + b, 0);
  if (values.shape[0] !== total) throw new MethodError(`trainable values: ${values.shape[0]} given, the method's tensors hold ${total}`);
  if (params.length === 1) return [tf.reshape(values, params[0].shape)];
  return tf.split(values, sizes).map((t, i) => tf.reshape(t, params[i].shape));
}

/** One param's values out of the flat array (a view, no copy). */
export function paramValues(values: Float32Array, params: ParamSpec[], name: string): Float32Array {
  let at = 0;
  for (const p of params) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    if (p.name === name) return values.subarray(at, at + n);
    at += n;
  }
  throw new MethodError(`no trainable tensor "${name}"`);
}

/** Reads a saved tensor, checking its shape (the error names the tensor, the file and both shapes). */
export function savedTensor(saved: Record<string, NamedTensor>, name: string, shape: number[], file = 'adapter_model.safetensors'): NamedTensor {
  const t = saved[name];
  if (!t) throw new MethodError(`${file}: no "${name}" tensor (found: ${Object.keys(saved).join(', ') || 'none'})`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new MethodError(`${file}: "${name}" is ${JSON.stringify(t.shape)} but the loaded model needs ${JSON.stringify(shape)}: the adapter was made for another model or config`);
  }
  if (!t.data.every(Number.isFinite)) throw new MethodError(`${file}: "${name}" contains NaN or Inf values`);
  return t;
}

/** Every tensor of an injection (tf.tidy and tf.keep do not look inside its Maps). */
export function injectionTensors(inj: Injection): tf.Tensor[] {
  const out: tf.Tensor[] = inj.prompt ? [inj.prompt] : [];
  out.push(...(inj.prefix?.keys ?? []), ...(inj.prefix?.values ?? []));
  for (const layer of inj.lora ?? []) for (const f of layer.values()) out.push(f.a, f.b);
  return out;
}

/** Frees the tensors of an injection made outside a tidy (Tuning.load). */
export function disposeInjection(inj: Injection): void {
  tf.dispose(injectionTensors(inj));
}
