// RoPE settings from config.json in both layouts transformers has written:
// - transformers 4: top-level `rope_theta`, `rope_scaling` ({rope_type|type, factor, ...}) and, for
//   Gemma 3, `rope_local_base_freq` (the sliding layers' theta; rope_scaling applies to full layers);
// - transformers 5: `rope_parameters` ({rope_type, rope_theta, ...}), or for models with layer types
//   one such dict per type ({"sliding_attention": {...}, "full_attention": {...}}).
// Priorities follow transformers 5 (RotaryEmbeddingConfigMixin.convert_rope_params_to_dict): a
// `rope_scaling` dict replaces `rope_parameters`; a theta inside the dict wins over the top-level one.
// Every setting that changes the numbers and is not implemented here is an error naming the field.
import { ModelConfigError, numberField } from './layers.ts';

export type LayerType = 'full_attention' | 'sliding_attention';
export const LAYER_TYPES: readonly LayerType[] = ['full_attention', 'sliding_attention'];

/** Keys of a rope dict that are read below, per rope_type; anything else that is set is refused. */
const KNOWN_KEYS: Record<string, string[]> = {
  default: [],
  linear: ['factor'],
  llama3: ['factor', 'low_freq_factor', 'high_freq_factor', 'original_max_position_embeddings'],
};
/** Keys that never change the numbers of these types (bookkeeping transformers writes). */
const IGNORED_KEYS = new Set(['rope_type', 'type', 'rope_theta']);

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/**
 * The rope dict that applies to layers of `layerType` (null for models without layer types), with
 * the field path to name in errors, after transformers 5's defaulting.
 */
function ropeDict(raw: Record<string, unknown>, what: string, layerType: LayerType | null, defaultTheta: { full: number; sliding: number }): { dict: Record<string, unknown>; field: string } {
  const scaling = raw.rope_scaling;
  const params = raw.rope_parameters;
  if (scaling !== undefined && scaling !== null && !isObject(scaling))
    throw new ModelConfigError(`${what}: config.json field "rope_scaling" must be an object or null, got ${JSON.stringify(scaling)}`);
  if (params !== undefined && params !== null && !isObject(params)) throw new ModelConfigError(`${what}: config.json field "rope_parameters" must be an object or null, got ${JSON.stringify(params)}`);
  const nested = isObject(params) && LAYER_TYPES.some((t) => t in params);
  if (nested) {
    if (!layerType) throw new ModelConfigError(`${what}: config.json "rope_parameters" is nested by layer type, which ${what} does not use`);
    const per = (params as Record<string, unknown>)[layerType];
    const dict = isObject(per) ? { ...per } : {};
    if (per !== undefined && per !== null && !isObject(per)) throw new ModelConfigError(`${what}: config.json field "rope_parameters.${layerType}" must be an object`);
    // Gemma 3 (transformers 5): rope_scaling still updates the full layers' dict.
    if (layerType === 'full_attention' && isObject(scaling)) Object.assign(dict, scaling);
    if (dict.rope_theta === undefined) dict.rope_theta = layerType === 'sliding_attention' ? (raw.rope_local_base_freq ?? defaultTheta.sliding) : (raw.rope_theta ?? defaultTheta.full);
    return { dict, field: `rope_parameters.${layerType}` };
  }
  if (layerType === 'sliding_attention' && (raw.rope_local_base_freq !== undefined || defaultTheta.sliding !== defaultTheta.full)) {
    // Gemma 3 in the transformers-4 layout: local layers take rope_local_base_freq and no scaling.
    return { dict: { rope_type: 'default', rope_theta: raw.rope_local_base_freq ?? defaultTheta.sliding }, field: 'rope_local_base_freq' };
  }
  const base = isObject(scaling) ? scaling : isObject(params) ? params : {};
  const dict = { ...base };
  if (dict.rope_theta === undefined) dict.rope_theta = raw.rope_theta ?? defaultTheta.full;
  return { dict, field: isObject(scaling) ? 'rope_scaling' : isObject(params) ? 'rope_parameters' : 'rope_theta' };
}

/**
 * Inverse frequencies [headDim / 2] as transformers computes them in float32, for the layers of
 * `layerType` (null: the model has one RoPE). Supports rope_type default, linear and llama3.
 */
export function ropeInverseFrequencies(raw: Record<string, unknown>, headDim: number, layerType: LayerType | null = null, defaultTheta = { full: 10000, sliding: 10000 }): Float32Array {
  const what = String(raw.model_type);
  const { dict, field } = ropeDict(raw, what, layerType, defaultTheta);
  const type = String(dict.rope_type ?? dict.type ?? 'default');
  const known = KNOWN_KEYS[type];
  if (!known) throw new ModelConfigError(`${what}: config.json "${field}" rope_type "${type}" is not supported (supported: ${Object.keys(KNOWN_KEYS).join(', ')})`);
  const partial = dict.partial_rotary_factor ?? raw.partial_rotary_factor;
  if (partial !== undefined && partial !== null && partial !== 1)
    throw new ModelConfigError(`${what}: config.json "partial_rotary_factor" ${JSON.stringify(partial)} is not supported (only 1: rotary over the whole head)`);
  for (const [k, v] of Object.entries(dict)) {
    if (IGNORED_KEYS.has(k) || known.includes(k) || k === 'partial_rotary_factor' || v === null || v === undefined) continue;
    throw new ModelConfigError(`${what}: config.json "${field}.${k}" is not supported for rope_type "${type}"`);
  }
  const theta = numberField(dict, ['rope_theta'], `${what} ${field}`);
  const inv = new Float32Array(headDim / 2);
  for (let i = 0; i < inv.length; i++) inv[i] = 1 / Math.fround(theta ** Math.fround((2 * i) / headDim));
  if (type === 'default') return inv;
  const factor = numberField(dict, ['factor'], `${what} ${field}`);
  if (type === 'linear') return inv.map((f) => f / factor);
  const low = numberField(dict, ['low_freq_factor'], `${what} ${field}`);
  const high = numberField(dict, ['high_freq_factor'], `${what} ${field}`);
  // transformers 5 defaults it to max_position_embeddings (standardize_rope_params).
  const oldCtx =
    dict.original_max_position_embeddings !== undefined
      ? numberField(dict, ['original_max_position_embeddings'], `${what} ${field}`)
      : numberField(raw, ['original_max_position_embeddings', 'max_position_embeddings'], what);
  const lowWavelen = oldCtx / low;
  const highWavelen = oldCtx / high;
  return inv.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < highWavelen) return f;
    if (wavelen > lowWavelen) return f / factor;
    const smooth = (oldCtx / wavelen - low) / (high - low);
    return (1 - smooth) * (f / factor) + smooth * f;
  });
}
