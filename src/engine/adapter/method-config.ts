// adapter_config.json for every method. Export writes the keys each PEFT version since the
// method's introduction reads (PEFT before 0.14 refuses keys it does not know, so newer keys
// are written only when they differ from the old behaviour); import reads any version's file and
// refuses, naming the field, what the engine does not implement.
import type { ModelOrigin } from '../load.ts';
import type { CausalLM } from '../models/model.ts';
import type { MethodConfig } from '../methods/index.ts';
import { targetModules } from '../methods/lora/index.ts';
import { prefixDims } from '../methods/prefix-tuning/index.ts';
import { AdapterError, exportConfigJson, optionalInt, optionalString, parseConfigJson } from './peft-config.ts';

/** What an adapter records about the model it was trained on. */
export interface AdapterMeta {
  baseModel: string | null;
  revision: string | null;
}

export function metaOf(origin: ModelOrigin): AdapterMeta {
  // The commit actually loaded, so AutoPeftModel fetches the same weights (PEFT 0.12+).
  return { baseModel: origin.id, revision: origin.commit ?? (origin.kind === 'hub' ? origin.revision : null) };
}

const sorted = (fields: Record<string, unknown>) =>
  Object.fromEntries(
    Object.keys(fields)
      .sort()
      .map((k) => [k, fields[k]]),
  );

/** adapter_config.json's object for `config` trained on `model`. */
export function methodConfigJson(config: MethodConfig, model: CausalLM, meta: AdapterMeta, tokenizerName: string | null = null): Record<string, unknown> {
  const { numLayers, numHeads, hiddenSize } = model.config;
  const common = { auto_mapping: null, base_model_name_or_path: meta.baseModel, inference_mode: true, revision: meta.revision, task_type: 'CAUSAL_LM' };
  switch (config.method) {
    case 'prompt':
      return exportConfigJson({
        numVirtualTokens: config.numVirtualTokens,
        tokenDim: hiddenSize,
        init: config.init,
        initText: config.initText,
        baseModel: meta.baseModel,
        revision: meta.revision,
        tokenizerName: tokenizerName ?? meta.baseModel,
        numLayers,
        numAttentionHeads: numHeads,
        peftType: 'PROMPT_TUNING',
      });
    case 'prefix': {
      const { tokenDim, heads } = prefixDims(model);
      return sorted({
        ...common,
        peft_type: 'PREFIX_TUNING',
        num_virtual_tokens: config.numVirtualTokens,
        num_transformer_submodules: 1,
        num_layers: numLayers,
        num_attention_heads: heads,
        token_dim: tokenDim,
        prefix_projection: config.prefixProjection,
        encoder_hidden_size: config.encoderHiddenSize ?? tokenDim,
        ...(config.initWeights ? { init_weights: config.initWeights } : {}),
      });
    }
    case 'p_tuning':
      return sorted({
        ...common,
        peft_type: 'P_TUNING',
        num_virtual_tokens: config.numVirtualTokens,
        num_transformer_submodules: 1,
        num_layers: numLayers,
        num_attention_heads: numHeads,
        token_dim: hiddenSize,
        encoder_reparameterization_type: config.encoderType,
        encoder_hidden_size: config.encoderHiddenSize ?? hiddenSize,
        encoder_num_layers: config.encoderNumLayers,
        encoder_dropout: config.encoderDropout,
      });
    case 'lora':
      return sorted({
        ...common,
        peft_type: 'LORA',
        r: config.r,
        lora_alpha: config.alpha,
        lora_dropout: config.dropout,
        // The modules' names, as PEFT writes a resolved 'all-linear'; a regular expression stays one.
        target_modules: typeof config.targetModules === 'string' && config.targetModules !== 'all-linear' ? config.targetModules : [...new Set(targetModules(model, config).map((m) => m.name))],
        // GPT-2's projections are Conv1D ([in, out]); PEFT sets this for them and warns otherwise.
        fan_in_fan_out: model.config.family === 'gpt2',
        bias: 'none',
        init_lora_weights: true,
        modules_to_save: null,
        layers_to_transform: null,
        layers_pattern: null,
        ...(config.useRslora ? { use_rslora: true } : {}),
      });
  }
}

const num = (v: unknown, key: string, fallback: number): number => {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new AdapterError(`adapter_config.json: "${key}" must be a number, got ${JSON.stringify(v)}`);
  return v;
};

/** Fields of a LoRA config the engine does not implement, with the value that means "off". */
const LORA_UNSUPPORTED: [key: string, off: (v: unknown) => boolean, what: string][] = [
  ['bias', (v) => v === undefined || v === null || v === 'none', 'trainable biases'],
  ['use_dora', (v) => !v, 'DoRA'],
  ['modules_to_save', (v) => v === undefined || v === null || (Array.isArray(v) && v.length === 0), 'fully trained extra modules'],
  ['layers_to_transform', (v) => v === undefined || v === null, 'a subset of layers'],
  ['rank_pattern', (v) => !v || (typeof v === 'object' && Object.keys(v).length === 0), 'per-module ranks'],
  ['alpha_pattern', (v) => !v || (typeof v === 'object' && Object.keys(v).length === 0), 'per-module alphas'],
  ['target_parameters', (v) => v === undefined || v === null || (Array.isArray(v) && v.length === 0), 'parameter targets'],
  ['exclude_modules', (v) => v === undefined || v === null || (Array.isArray(v) && v.length === 0), 'excluded modules'],
  ['layer_replication', (v) => v === undefined || v === null, 'layer replication'],
];

/** The method and its config from any PEFT version's adapter_config.json. */
export function methodConfigFromJson(json: unknown): { config: MethodConfig; meta: AdapterMeta } {
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new AdapterError('adapter_config.json: expected a JSON object');
  const j = json as Record<string, unknown>;
  const peftType = String(j.peft_type ?? '').replace(/^PeftType\./, '');
  const meta = { baseModel: optionalString(j.base_model_name_or_path, 'base_model_name_or_path'), revision: optionalString(j.revision, 'revision') };
  const task = j.task_type === undefined || j.task_type === null ? 'CAUSAL_LM' : String(j.task_type).replace(/^TaskType\./, '');
  if (task !== 'CAUSAL_LM') throw new AdapterError(`adapter_config.json: task_type is "${task}"; only CAUSAL_LM adapters fit a causal language model`);
  // PEFT writes encoder_hidden_size = token_dim when it was left unset: read that back as unset.
  const encoderSize = () => {
    const h = optionalInt(j.encoder_hidden_size, 'encoder_hidden_size');
    return h !== null && h === optionalInt(j.token_dim, 'token_dim') ? null : h;
  };
  const virtual = () => {
    const V = optionalInt(j.num_virtual_tokens, 'num_virtual_tokens');
    if (V === null) throw new AdapterError('adapter_config.json: "num_virtual_tokens" is required');
    const subs = optionalInt(j.num_transformer_submodules, 'num_transformer_submodules') ?? 1;
    if (subs !== 1) throw new AdapterError(`adapter_config.json: num_transformer_submodules is ${subs}; decoder-only models use 1`);
    return V;
  };
  switch (peftType) {
    case 'PROMPT_TUNING': {
      const c = parseConfigJson(j);
      return { config: { method: 'prompt', numVirtualTokens: c.numVirtualTokens, init: c.init, initText: c.initText }, meta };
    }
    case 'PREFIX_TUNING': {
      const initWeights = j.init_weights === undefined || j.init_weights === null ? null : j.init_weights === 'zero' ? 'zero' : undefined;
      if (initWeights === undefined) throw new AdapterError(`adapter_config.json: init_weights must be "zero" or null, got ${JSON.stringify(j.init_weights)}`);
      return {
        config: {
          method: 'prefix',
          numVirtualTokens: virtual(),
          prefixProjection: j.prefix_projection === true,
          encoderHiddenSize: encoderSize(),
          initWeights,
        },
        meta,
      };
    }
    case 'P_TUNING': {
      const type = String(j.encoder_reparameterization_type ?? 'MLP').replace(/^PromptEncoderReparameterizationType\./, '');
      if (type !== 'MLP' && type !== 'LSTM')
        throw new AdapterError(`adapter_config.json: encoder_reparameterization_type must be MLP or LSTM, got ${JSON.stringify(j.encoder_reparameterization_type)}`);
      return {
        config: {
          method: 'p_tuning',
          numVirtualTokens: virtual(),
          encoderType: type,
          encoderHiddenSize: encoderSize(),
          encoderNumLayers: optionalInt(j.encoder_num_layers, 'encoder_num_layers') ?? 2,
          encoderDropout: num(j.encoder_dropout, 'encoder_dropout', 0),
        },
        meta,
      };
    }
    case 'LORA': {
      for (const [key, off, what] of LORA_UNSUPPORTED) if (!off(j[key])) throw new AdapterError(`adapter_config.json: "${key}" ${JSON.stringify(j[key])} (${what}) is not supported here`);
      const r = optionalInt(j.r, 'r') ?? 8;
      const t = j.target_modules;
      if (!(t === undefined || t === null || typeof t === 'string' || (Array.isArray(t) && t.every((x) => typeof x === 'string')))) {
        throw new AdapterError(`adapter_config.json: target_modules must be a list of module names, a regular expression or null, got ${JSON.stringify(t)}`);
      }
      return {
        config: {
          method: 'lora',
          r,
          alpha: num(j.lora_alpha, 'lora_alpha', 8),
          dropout: num(j.lora_dropout, 'lora_dropout', 0),
          targetModules: (t as string[] | string | undefined) ?? null,
          useRslora: j.use_rslora === true,
        },
        meta,
      };
    }
    default:
      throw new AdapterError(`adapter_config.json: peft_type is ${JSON.stringify(j.peft_type ?? null)}; supported: PROMPT_TUNING, PREFIX_TUNING, P_TUNING, LORA`);
  }
}
