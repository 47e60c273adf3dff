// Gemma: the Llama block with RMSNorms that scale by (1 + w), token embeddings multiplied by
// sqrt(hidden_size) (in float32; the soft prompt is not scaled, PEFT passes it as inputs_embeds),
// a GeGLU MLP (gelu_pytorch_tanh; config "gelu" means the same, as transformers remaps it) and a tied head.
import type { WeightStore } from '../io/checkpoint.ts';
import type { CausalLM, ModelConfig } from './model.ts';
import { activation } from './layers.ts';
import { LLAMA_LAYOUT, buildRopeDecoder, decoderDropout, decoderConfig, rmsEps, uniformLayers } from './decoder.ts';

export function gemmaConfig(raw: Record<string, unknown>): ModelConfig {
  return { ...decoderConfig(raw, 'gemma'), tieWordEmbeddings: raw.tie_word_embeddings !== false };
}

export function buildGemma(raw: Record<string, unknown>, store: WeightStore): CausalLM {
  const config = gemmaConfig(raw);
  const what = config.modelType;
  const act = String(raw.hidden_act ?? 'gelu_pytorch_tanh');
  return buildRopeDecoder(config, store, {
    layout: { ...LLAMA_LAYOUT, qkvBias: raw.attention_bias === true, oBias: raw.attention_bias === true, plusOneNorms: true },
    eps: rmsEps(raw, what),
    act: activation(act === 'gelu' ? 'gelu_pytorch_tanh' : act, what),
    scale: 1 / Math.sqrt(config.headDim),
    attnSoftcap: null,
    logitSoftcap: null,
    embedScale: Math.sqrt(config.hiddenSize),
    dropout: decoderDropout(raw, what),
    layers: uniformLayers({ ...raw, sliding_window: null, layer_types: null }, config, null),
  });
}
