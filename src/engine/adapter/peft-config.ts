// adapter_config.json for PROMPT_TUNING: the portable 14 keys on export (PEFT 0.4 → today),
// lenient reading of every version's field set on import (see shared PEFT_FILES.md).
import { parseInitKind, type InitKind } from '../prompt/init.ts';

export class AdapterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AdapterError';
  }
}

/** What the project knows about an adapter, independent of PEFT's file layout. */
export interface AdapterConfig {
  numVirtualTokens: number;
  tokenDim: number | null;
  init: InitKind;
  initText: string | null;
  baseModel: string | null;
  revision: string | null;
  tokenizerName: string | null;
  numLayers: number | null;
  numAttentionHeads: number | null;
  /** 'PROMPT_TUNING', or 'P_TUNING' whose prompt_embeddings are used as a soft prompt too. */
  peftType: string;
}

/** The 14 keys PEFT 0.4-0.6 wrote; PEFT before 0.14 rejects any key it does not know. */
export function exportConfigJson(c: AdapterConfig): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    auto_mapping: null,
    base_model_name_or_path: c.baseModel,
    inference_mode: true,
    num_attention_heads: c.numAttentionHeads,
    num_layers: c.numLayers,
    num_transformer_submodules: 1,
    num_virtual_tokens: c.numVirtualTokens,
    peft_type: 'PROMPT_TUNING',
    prompt_tuning_init: c.init,
    prompt_tuning_init_text: c.init === 'TEXT' ? c.initText : null,
    revision: c.revision,
    task_type: 'CAUSAL_LM',
    token_dim: c.tokenDim,
    // PEFT 0.10+ needs a tokenizer to re-run TEXT init; for other inits PEFT writes null.
    tokenizer_name_or_path: c.init === 'TEXT' ? (c.tokenizerName ?? c.baseModel) : null,
  };
  return Object.fromEntries(
    Object.keys(fields)
      .sort()
      .map((k) => [k, fields[k]]),
  );
}

export function optionalString(v: unknown, key: string): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string') throw new AdapterError(`adapter_config.json: "${key}" must be a string or null, got ${JSON.stringify(v)}`);
  return v;
}

export function optionalInt(v: unknown, key: string): number | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new AdapterError(`adapter_config.json: "${key}" must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

/** Reads any PEFT version's prompt-tuning config; unknown keys are ignored. */
export function parseConfigJson(json: unknown): AdapterConfig {
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new AdapterError('adapter_config.json: expected a JSON object');
  const j = json as Record<string, unknown>;
  const peftType = String(j.peft_type ?? '').replace(/^PeftType\./, '');
  if (peftType !== 'PROMPT_TUNING' && peftType !== 'P_TUNING') {
    throw new AdapterError(`adapter_config.json: peft_type is ${JSON.stringify(j.peft_type ?? null)}; only PROMPT_TUNING adapters (or P_TUNING prompt embeddings) can be used`);
  }
  const task = j.task_type === undefined || j.task_type === null ? 'CAUSAL_LM' : String(j.task_type).replace(/^TaskType\./, '');
  if (task !== 'CAUSAL_LM') throw new AdapterError(`adapter_config.json: task_type is "${task}"; only CAUSAL_LM adapters fit a causal language model`);
  const V = optionalInt(j.num_virtual_tokens, 'num_virtual_tokens');
  if (V === null) throw new AdapterError('adapter_config.json: "num_virtual_tokens" is required');
  const subs = optionalInt(j.num_transformer_submodules, 'num_transformer_submodules') ?? 1;
  if (subs !== 1) throw new AdapterError(`adapter_config.json: num_transformer_submodules is ${subs}; decoder-only models use 1`);
  let init: InitKind = 'RANDOM';
  if (j.prompt_tuning_init !== undefined && j.prompt_tuning_init !== null) {
    try {
      init = parseInitKind(String(j.prompt_tuning_init));
    } catch {
      throw new AdapterError(`adapter_config.json: prompt_tuning_init ${JSON.stringify(j.prompt_tuning_init)} is not TEXT, SAMPLE_VOCAB or RANDOM`);
    }
  }
  return {
    numVirtualTokens: V,
    tokenDim: optionalInt(j.token_dim, 'token_dim'),
    init,
    initText: optionalString(j.prompt_tuning_init_text, 'prompt_tuning_init_text'),
    baseModel: optionalString(j.base_model_name_or_path, 'base_model_name_or_path'),
    revision: optionalString(j.revision, 'revision'),
    tokenizerName: optionalString(j.tokenizer_name_or_path, 'tokenizer_name_or_path'),
    numLayers: optionalInt(j.num_layers, 'num_layers'),
    numAttentionHeads: optionalInt(j.num_attention_heads, 'num_attention_heads'),
    peftType,
  };
}
