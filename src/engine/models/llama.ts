// Llama family (Llama, SmolLM2, Qwen2, TinyLlama...): RMSNorm, RoPE (rotate_half), grouped
// key/value heads, SwiGLU MLP, optional q/k/v biases (always present in Qwen2), tied or untied
// head. Qwen2 may mark layers as sliding-window layers (use_sliding_window, max_window_layers).
import type { WeightStore } from '../io/checkpoint.ts';
import type { CausalLM, ModelConfig } from './model.ts';
import { activation } from './layers.ts';
import { LLAMA_LAYOUT, buildRopeDecoder, decoderDropout, decoderConfig, rmsEps, uniformLayers } from './decoder.ts';

export { ropeInverseFrequencies } from './rope-config.ts';

export function llamaConfig(raw: Record<string, unknown>): ModelConfig {
  return decoderConfig(raw, 'llama');
}

export function buildLlama(raw: Record<string, unknown>, store: WeightStore): CausalLM {
  const config = llamaConfig(raw);
  const what = config.modelType;
  const qwen2 = what === 'qwen2';
  // transformers 5 (Qwen2Config): sliding layers only with use_sliding_window, from max_window_layers on.
  const maxWindowLayers = typeof raw.max_window_layers === 'number' ? raw.max_window_layers : config.numLayers;
  const windowed = qwen2 && raw.use_sliding_window === true;
  // Llama's modeling code has no sliding window; Qwen2's only with use_sliding_window.
  const layers = uniformLayers(windowed ? raw : { ...raw, sliding_window: null, layer_types: null }, config, windowed ? (i) => i >= maxWindowLayers : null);
  return buildRopeDecoder(config, store, {
    layout: { ...LLAMA_LAYOUT, qkvBias: qwen2 || raw.attention_bias === true, oBias: raw.attention_bias === true, mlpBias: raw.mlp_bias === true },
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
