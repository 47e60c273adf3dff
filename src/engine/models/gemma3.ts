// Gemma 3 (text): Gemma 2's block with (1 + w) RMSNorm on each query and key head before RoPE,
// and two RoPEs: sliding layers use the local one (rope_parameters.sliding_attention, or
// rope_local_base_freq, default theta 1e4), full layers the global one (rope_parameters.full_attention,
// or rope_theta + rope_scaling, default theta 1e6). Layer types from layer_types, else every
// sliding_window_pattern-th layer (default 6) is full.
import type { WeightStore } from '../io/checkpoint.ts';
import type { CausalLM, ModelConfig } from './model.ts';
import { ModelConfigError, activation, numberField, positiveInt } from './layers.ts';
import { buildRopeDecoder, decoderDropout, decoderConfig, layerTypes, rmsEps, slidingWindow, softcap } from './decoder.ts';
import { GEMMA_SANDWICH, refuseBidirectional } from './gemma2.ts';
import { ropeInverseFrequencies } from './rope-config.ts';

export function gemma3Config(raw: Record<string, unknown>): ModelConfig {
  return { ...decoderConfig(raw, 'gemma3_text'), tieWordEmbeddings: raw.tie_word_embeddings !== false };
}

export function buildGemma3(raw: Record<string, unknown>, store: WeightStore): CausalLM {
  const config = gemma3Config(raw);
  const what = config.modelType;
  refuseBidirectional(raw, what);
  const thetas = { full: 1_000_000, sliding: 10_000 };
  const global = ropeInverseFrequencies(raw, config.headDim, 'full_attention', thetas);
  const local = ropeInverseFrequencies(raw, config.headDim, 'sliding_attention', thetas);
  const pattern = positiveInt(raw, ['sliding_window_pattern', '_sliding_window_pattern'], what, 6);
  const types = layerTypes(raw, config.numLayers, what) ?? Array.from({ length: config.numLayers }, (_, i) => ((i + 1) % pattern ? 'sliding_attention' : 'full_attention'));
  const window = slidingWindow(raw, what);
  if (window === null && types.includes('sliding_attention')) throw new ModelConfigError(`${what}: config.json has sliding_attention layers but no "sliding_window"`);
  const bias = raw.attention_bias === true;
  return buildRopeDecoder(config, store, {
    layout: { ...GEMMA_SANDWICH, qkNorm: 'head', qkvBias: bias, oBias: bias },
    eps: rmsEps(raw, what),
    act: activation(String(raw.hidden_activation ?? 'gelu_pytorch_tanh'), what),
    scale: numberField(raw, ['query_pre_attn_scalar'], what, 256) ** -0.5,
    attnSoftcap: softcap(raw, 'attn_logit_softcapping', what),
    logitSoftcap: softcap(raw, 'final_logit_softcapping', what),
    embedScale: Math.sqrt(config.hiddenSize),
    dropout: decoderDropout(raw, what),
    layers: types.map((t) => (t === 'sliding_attention' ? { window, inv: local } : { window: null, inv: global })),
  });
}
