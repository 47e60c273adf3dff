// Gemma 2: Gemma's (1 + w) norms and scaled embeddings, with norms before and after each sublayer
// (input/post_attention, pre/post_feedforward), sliding-window attention on the layers
// layer_types marks (by default every other one, from layer 0), scores scaled by
// query_pre_attn_scalar^-0.5, and attention and final logit soft-capping where set.
import type { WeightStore } from '../io/checkpoint.ts';
import type { CausalLM, ModelConfig } from './model.ts';
import { ModelConfigError, activation, numberField } from './layers.ts';
import { buildRopeDecoder, decoderDropout, decoderConfig, rmsEps, softcap, uniformLayers, type BlockLayout } from './decoder.ts';

export const GEMMA_SANDWICH: BlockLayout = {
  inNorm: 'input_layernorm.weight',
  postAttnNorm: 'post_attention_layernorm.weight',
  preMlpNorm: 'pre_feedforward_layernorm.weight',
  postMlpNorm: 'post_feedforward_layernorm.weight',
  qkNorm: null,
  fusedProjections: false,
  qkvBias: false,
  oBias: false,
  mlpBias: false,
  plusOneNorms: true,
};

export function gemma2Config(raw: Record<string, unknown>): ModelConfig {
  return { ...decoderConfig(raw, 'gemma2'), tieWordEmbeddings: raw.tie_word_embeddings !== false };
}

/** Refuses bidirectional attention (EmbeddingGemma-style configs): these are causal LMs. */
export function refuseBidirectional(raw: Record<string, unknown>, what: string): void {
  if (raw.use_bidirectional_attention === true) throw new ModelConfigError(`${what}: config.json "use_bidirectional_attention" true is not supported (causal attention only)`);
}

export function buildGemma2(raw: Record<string, unknown>, store: WeightStore): CausalLM {
  const config = gemma2Config(raw);
  const what = config.modelType;
  refuseBidirectional(raw, what);
  const bias = raw.attention_bias === true;
  return buildRopeDecoder(config, store, {
    layout: { ...GEMMA_SANDWICH, qkvBias: bias, oBias: bias },
    eps: rmsEps(raw, what),
    act: activation(String(raw.hidden_activation ?? 'gelu_pytorch_tanh'), what),
    scale: numberField(raw, ['query_pre_attn_scalar'], what, 256) ** -0.5,
    attnSoftcap: softcap(raw, 'attn_logit_softcapping', what),
    logitSoftcap: softcap(raw, 'final_logit_softcapping', what),
    embedScale: Math.sqrt(config.hiddenSize),
    dropout: decoderDropout(raw, what),
    layers: uniformLayers(raw, config, (i) => (i + 1) % 2 !== 0),
  });
}
