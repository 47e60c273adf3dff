// Qwen3: the Llama block with RMSNorm on each query and key head (q_norm, k_norm over head_dim,
// before RoPE), an explicit head_dim, no q/k/v biases, and optional sliding-window layers
// (use_sliding_window from max_window_layers on, or layer_types).
import type { WeightStore } from '../io/checkpoint.ts';
import type { CausalLM, ModelConfig } from './model.ts';
import { activation } from './layers.ts';
import { LLAMA_LAYOUT, buildRopeDecoder, decoderDropout, decoderConfig, rmsEps, uniformLayers } from './decoder.ts';

export function qwen3Config(raw: Record<string, unknown>): ModelConfig {
  return decoderConfig(raw, 'qwen3');
}

export function buildQwen3(raw: Record<string, unknown>, store: WeightStore): CausalLM {
  const config = qwen3Config(raw);
  const what = config.modelType;
  const windowed = raw.use_sliding_window === true;
  const maxWindowLayers = typeof raw.max_window_layers === 'number' ? raw.max_window_layers : config.numLayers;
  const layers = uniformLayers(windowed ? raw : { ...raw, sliding_window: null, layer_types: null }, config, windowed ? (i) => i >= maxWindowLayers : null);
  return buildRopeDecoder(config, store, {
    layout: { ...LLAMA_LAYOUT, qkNorm: 'head', qkvBias: raw.attention_bias === true, oBias: raw.attention_bias === true },
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
