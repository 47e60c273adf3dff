// Mistral: the Llama block with sliding-window attention on every layer when sliding_window is
// set (a query sees the keys less than sliding_window positions back).
import type { WeightStore } from '../io/checkpoint.ts';
import type { CausalLM, ModelConfig } from './model.ts';
import { ModelConfigError, activation } from './layers.ts';
import { LLAMA_LAYOUT, buildRopeDecoder, decoderDropout, decoderConfig, rmsEps, uniformLayers } from './decoder.ts';

export function mistralConfig(raw: Record<string, unknown>): ModelConfig {
  return decoderConfig(raw, 'mistral');
}

export function buildMistral(raw: Record<string, unknown>, store: WeightStore): CausalLM {
  const config = mistralConfig(raw);
  const what = config.modelType;
  // transformers' MistralModel masks every layer alike; per-layer types belong to Ministral.
  if (Array.isArray(raw.layer_types) && new Set(raw.layer_types).size > 1)
    throw new ModelConfigError(`${what}: config.json "layer_types" mixes layer types, which MistralForCausalLM does not (that is Ministral)`);
  const layers = uniformLayers({ ...raw, layer_types: null }, config, () => raw.sliding_window !== null && raw.sliding_window !== undefined);
  return buildRopeDecoder(config, store, {
    layout: LLAMA_LAYOUT,
    eps: rmsEps(raw, what),
    act: activation(String(raw.hidden_act ?? 'silu'), what),
    scale: 1 / Math.sqrt(config.headDim),
    attnSoftcap: null,
    logitSoftcap: null,
    embedScale: null,
    dropout: decoderDropout(raw, what),
    layers,
  });
}
