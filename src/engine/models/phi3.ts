// Phi-3: the Llama block with one fused qkv_proj ([q | k | v] rows) and one fused gate_up_proj
// ([gate | up] rows), and sliding-window attention on every layer when sliding_window is set.
import type { WeightStore } from '../io/checkpoint.ts';
import type { CausalLM, ModelConfig } from './model.ts';
import { activation } from './layers.ts';
import { LLAMA_LAYOUT, buildRopeDecoder, decoderDropout, decoderConfig, rmsEps, uniformLayers } from './decoder.ts';

export function phi3Config(raw: Record<string, unknown>): ModelConfig {
  return decoderConfig(raw, 'phi3');
}

export function buildPhi3(raw: Record<string, unknown>, store: WeightStore): CausalLM {
  const config = phi3Config(raw);
  const what = config.modelType;
  const layers = uniformLayers({ ...raw, layer_types: null }, config, () => raw.sliding_window !== null && raw.sliding_window !== undefined);
  return buildRopeDecoder(config, store, {
    layout: { ...LLAMA_LAYOUT, fusedProjections: true },
    eps: rmsEps(raw, what, 1e-5),
    act: activation(String(raw.hidden_act ?? 'silu'), what),
    scale: 1 / Math.sqrt(config.headDim),
    attnSoftcap: null,
    logitSoftcap: null,
    embedScale: null,
    dropout: decoderDropout(raw, what, 'resid_pdrop'),
    layers,
  });
}
