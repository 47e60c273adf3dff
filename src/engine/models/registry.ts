import type { WeightStore } from '../io/checkpoint.ts';
import { buildBloom, bloomConfig } from './bloom.ts';
import { buildGpt2, gpt2Config } from './gpt2.ts';
import { ModelConfigError } from './layers.ts';
import { buildLlama, llamaConfig } from './llama.ts';
import type { CausalLM, ModelConfig } from './model.ts';
import { buildGemma, gemmaConfig } from './gemma.ts';
import { buildGemma2, gemma2Config } from './gemma2.ts';
import { buildGemma3, gemma3Config } from './gemma3.ts';
import { buildMistral, mistralConfig } from './mistral.ts';
import { buildOlmo2, olmo2Config } from './olmo2.ts';
import { buildPhi3, phi3Config } from './phi3.ts';
import { buildQwen3, qwen3Config } from './qwen3.ts';

interface Family {
  config(raw: Record<string, unknown>): ModelConfig;
  build(raw: Record<string, unknown>, weights: WeightStore): CausalLM;
}

const GPT2: Family = { config: gpt2Config, build: buildGpt2 };
const LLAMA: Family = { config: llamaConfig, build: buildLlama };
const BLOOM: Family = { config: bloomConfig, build: buildBloom };

/** config.json model_type → the family file that runs it. */
const FAMILIES: Record<string, Family> = {
  gpt2: GPT2,
  llama: LLAMA,
  qwen2: LLAMA,
  bloom: BLOOM,
  qwen3: { config: qwen3Config, build: buildQwen3 },
  mistral: { config: mistralConfig, build: buildMistral },
  phi3: { config: phi3Config, build: buildPhi3 },
  olmo2: { config: olmo2Config, build: buildOlmo2 },
  gemma: { config: gemmaConfig, build: buildGemma },
  gemma2: { config: gemma2Config, build: buildGemma2 },
  gemma3_text: { config: gemma3Config, build: buildGemma3 },
};

export const SUPPORTED_MODEL_TYPES = Object.keys(FAMILIES);

function familyOf(raw: Record<string, unknown>): Family {
  const type = raw.model_type;
  if (typeof type !== 'string') throw new ModelConfigError('config.json has no "model_type" string');
  const family = FAMILIES[type];
  if (!family) throw new ModelConfigError(`config.json: model_type "${type}" is not supported (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`);
  return family;
}

/** Normalised sizes from a config.json, without loading weights. */
export function modelConfig(raw: Record<string, unknown>): ModelConfig {
  return familyOf(raw).config(raw);
}

export function buildModel(raw: Record<string, unknown>, weights: WeightStore): CausalLM {
  return familyOf(raw).build(raw, weights);
}
