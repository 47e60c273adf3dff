// OLMo 2: no norm before attention or MLP; RMSNorm on each sublayer's output before the residual
// add (post_attention_layernorm, post_feedforward_layernorm), and RMSNorm over the full q and k
// projections (q_norm [heads * head_dim], k_norm [kv_heads * head_dim]) before RoPE.
import type { WeightStore } from '../io/checkpoint.ts';
import type { CausalLM, ModelConfig } from './model.ts';
import { activation } from './layers.ts';
import { buildRopeDecoder, decoderDropout, decoderConfig, rmsEps, uniformLayers } from './decoder.ts';

export function olmo2Config(raw: Record<string, unknown>): ModelConfig {
  return decoderConfig(raw, 'olmo2');
}

export function buildOlmo2(raw: Record<string, unknown>, store: WeightStore): CausalLM {
  const config = olmo2Config(raw);
  const what = config.modelType;
  return buildRopeDecoder(config, store, {
    layout: {
      inNorm: null,
      postAttnNorm: 'post_attention_layernorm.weight',
      preMlpNorm: null,
      postMlpNorm: 'post_feedforward_layernorm.weight',
      qkNorm: 'full',
      fusedProjections: false,
      qkvBias: raw.attention_bias === true,
      oBias: raw.attention_bias === true,
      mlpBias: false,
      plusOneNorms: false,
    },
    eps: rmsEps(raw, what, 1e-5),
    act: activation(String(raw.hidden_act ?? 'silu'), what),
    scale: 1 / Math.sqrt(config.headDim),
    attnSoftcap: null,
    logitSoftcap: null,
    embedScale: null,
    dropout: decoderDropout(raw, what),
    layers: uniformLayers({ ...raw, sliding_window: null, layer_types: null }, config, null),
  });
}
