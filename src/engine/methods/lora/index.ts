// LoRA (PEFT's LoraConfig / lora.Linear): on each targeted projection W, a trainable low-rank
// delta  y = W x + (alpha / r) · B A dropout(x),  A [r, in] Kaiming-uniform (a = sqrt(5)), B [out, r]
// zeros, so training starts at the base model. The base weights stay frozen; the families apply
// the delta inside their blocks (models/block-adapter.ts) and report A's and B's gradients.
// GPT-2's Conv1D projections (fan_in_fan_out) take the same A and B shapes as a Linear.
import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM, LinearModule } from '../../models/model.ts';
import type { LoraFactors } from '../../ops/lora.ts';
import { Rng } from '../../random.ts';
import { MethodError, savedTensor, type Injection, type NamedTensor, type ParamSpec, type TuningMethod } from '../method.ts';
import { concatValues, uniform } from '../torch-init.ts';

export interface LoraConfig {
  r: number;
  alpha: number;
  dropout: number;
  /** Module names (matched on the path's end), a regular expression over the whole path, 'all-linear', or null for PEFT's default of the model type. */
  targetModules: string[] | string | null;
  /** Scale alpha / sqrt(r) instead of alpha / r. */
  useRslora: boolean;
}

/** PEFT's TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING for the families here (phi3 and olmo2 have none). */
export const DEFAULT_TARGETS: Readonly<Record<string, readonly string[]>> = {
  gpt2: ['c_attn'],
  bloom: ['query_key_value'],
  llama: ['q_proj', 'v_proj'],
  mistral: ['q_proj', 'v_proj'],
  qwen2: ['q_proj', 'v_proj'],
  qwen3: ['q_proj', 'v_proj'],
  gemma: ['q_proj', 'v_proj'],
  gemma2: ['q_proj', 'v_proj'],
  gemma3_text: ['q_proj', 'v_proj'],
};

/** The modules LoRA adapts, as PEFT's check_target_module_exists chooses them. */
export function targetModules(model: CausalLM, c: LoraConfig): LinearModule[] {
  const { modelType } = model.config;
  const names = [...new Set(model.modules.map((m) => m.name))].join(', ');
  const t = c.targetModules ?? DEFAULT_TARGETS[modelType] ?? null;
  if (t === null) throw new MethodError(`target_modules: PEFT has no default for model_type "${modelType}"; name the projections to adapt (this model has: ${names})`);
  let match: (m: LinearModule) => boolean;
  if (t === 'all-linear') match = () => true;
  else if (typeof t === 'string') {
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${t})$`);
    } catch (e) {
      throw new MethodError(`target_modules: ${JSON.stringify(t)} is not a valid regular expression (${(e as Error).message})`);
    }
    match = (m) => re.test(m.path);
  } else match = (m) => t.some((name) => m.path === name || m.path.endsWith(`.${name}`));
  const chosen = model.modules.filter(match);
  if (chosen.length === 0) throw new MethodError(`target_modules ${JSON.stringify(t)} match no module of this ${modelType} model (its projections: ${names})`);
  return chosen;
}

/** The delta's scale: alpha / r, or alpha / sqrt(r) with rsLoRA. */
export const scaleOf = (c: LoraConfig) => (c.useRslora ? c.alpha / Math.sqrt(c.r) : c.alpha / c.r);
const paramName = (m: LinearModule, ab: 'A' | 'B') => `base_model.model.${m.path}.lora_${ab}.default.weight`;
/** The key PEFT's save_pretrained writes (the adapter name removed). */
export const savedName = (m: LinearModule, ab: 'A' | 'B') => `base_model.model.${m.path}.lora_${ab}.weight`;

export const lora: TuningMethod<LoraConfig> = {
  peftType: 'LORA',
  check(model, c) {
    if (!Number.isInteger(c.r) || c.r <= 0) throw new MethodError(`r must be a positive integer, got ${c.r}`);
    if (!Number.isFinite(c.alpha)) throw new MethodError(`lora_alpha must be a number, got ${c.alpha}`);
    if (!(c.dropout >= 0 && c.dropout < 1)) throw new MethodError(`lora_dropout must be in [0, 1), got ${c.dropout}`);
    targetModules(model, c);
  },
  params: (model, c): ParamSpec[] =>
    targetModules(model, c).flatMap((m) => [
      { name: paramName(m, 'A'), shape: [c.r, m.inFeatures] },
      { name: paramName(m, 'B'), shape: [m.outFeatures, c.r] },
    ]),
  async init({ model, seed }, c) {
    const rng = new Rng(seed);
    // reset_lora_parameters: kaiming_uniform_(A, a = sqrt(5)) is U(±1/sqrt(in)); B zeros.
    return concatValues(targetModules(model, c).flatMap((m) => [uniform(rng, c.r * m.inFeatures, 1 / Math.sqrt(m.inFeatures)), new Float32Array(m.outFeatures * c.r)]));
  },
  inject(model, c, tensors): Injection {
    // Per layer factors by module key: Aᵀ and Bᵀ of each target (tensors hold A, B per target in order).
    const layers = Array.from({ length: model.config.numLayers }, () => new Map<string, LoraFactors>());
    targetModules(model, c).forEach((m, i) => {
      layers[m.layer].set(m.key, { a: tf.transpose(tensors[2 * i]) as tf.Tensor2D, b: tf.transpose(tensors[2 * i + 1]) as tf.Tensor2D, scale: scaleOf(c), dropout: c.dropout });
    });
    return { prompt: null, prefix: null, lora: layers };
  },
  save(model, c, values) {
    const out: Record<string, NamedTensor> = {};
    let at = 0;
    for (const m of targetModules(model, c)) {
      for (const [ab, shape] of [
        ['A', [c.r, m.inFeatures]],
        ['B', [m.outFeatures, c.r]],
      ] as const) {
        const n = shape[0] * shape[1];
        out[savedName(m, ab)] = { shape: [...shape], data: values.slice(at, at + n) };
        at += n;
      }
    }
    if (at !== values.length) throw new MethodError(`LoRA: ${values.length} values, the targeted modules hold ${at}`);
    return out;
  },
  fromSaved(model, c, saved) {
    const targets = targetModules(model, c);
    const known = new Set(targets.flatMap((m) => [savedName(m, 'A'), savedName(m, 'B')]));
    const extra = Object.keys(saved).filter((k) => !known.has(k));
    if (extra.length)
      throw new MethodError(`adapter_model.safetensors: ${extra.length} tensor(s) fit no targeted module of the loaded model, e.g. "${extra[0]}" (target_modules ${JSON.stringify(c.targetModules)})`);
    const parts = targets.flatMap((m) => [savedTensor(saved, savedName(m, 'A'), [c.r, m.inFeatures]).data, savedTensor(saved, savedName(m, 'B'), [m.outFeatures, c.r]).data]);
    return { config: { method: 'lora', ...c }, values: concatValues(parts) };
  },
  virtualTokens: () => 0,
  contextTokens: () => 0,
};
