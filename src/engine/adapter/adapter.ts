// A PEFT prompt-tuning adapter folder: adapter_config.json + adapter_model.safetensors
// (one F32 tensor "prompt_embeddings" [V, H]) + a README.md model card.
import { parseSafetensors, writeSafetensors, SafetensorsError } from '../io/safetensors.ts';
import type { ModelOrigin } from '../load.ts';
import type { ModelConfig } from '../models/model.ts';
import type { InitKind } from '../prompt/init.ts';
import { modelCard } from './model-card.ts';
import { AdapterError, exportConfigJson, parseConfigJson, type AdapterConfig } from './peft-config.ts';

export const CONFIG_FILE = 'adapter_config.json';
export const WEIGHTS_FILE = 'adapter_model.safetensors';
export const LEGACY_WEIGHTS_FILE = 'adapter_model.bin';
export const PROMPT_KEY = 'prompt_embeddings';

export interface PromptAdapter {
  config: AdapterConfig;
  /** Row-major [V, H]. */
  promptEmbeddings: Float32Array;
}

/** Builds the adapter for a soft prompt trained on `model` loaded from `origin`. */
export function makeAdapter(values: Float32Array, model: ModelConfig, origin: ModelOrigin, init: { kind: InitKind; text?: string | null }): PromptAdapter {
  const V = values.length / model.hiddenSize;
  if (!Number.isInteger(V)) throw new AdapterError(`soft prompt of ${values.length} values is not a multiple of hidden size ${model.hiddenSize}`);
  return {
    config: {
      numVirtualTokens: V,
      tokenDim: model.hiddenSize,
      init: init.kind,
      initText: init.kind === 'TEXT' ? (init.text ?? null) : null,
      baseModel: origin.id,
      // The commit actually loaded, so AutoPeftModel fetches the same weights (PEFT 0.12+).
      revision: origin.commit ?? (origin.kind === 'hub' ? origin.revision : null),
      tokenizerName: origin.id,
      numLayers: model.numLayers,
      numAttentionHeads: model.numHeads,
      peftType: 'PROMPT_TUNING',
    },
    promptEmbeddings: values,
  };
}

const enc = new TextEncoder();

/** The files of the adapter folder, by name. */
export function adapterFiles(adapter: PromptAdapter): Record<string, Uint8Array> {
  const { config, promptEmbeddings } = adapter;
  const H = config.tokenDim ?? promptEmbeddings.length / config.numVirtualTokens;
  return {
    [CONFIG_FILE]: enc.encode(JSON.stringify(exportConfigJson({ ...config, tokenDim: H }), null, 2) + '\n'),
    [WEIGHTS_FILE]: writeSafetensors({ [PROMPT_KEY]: { shape: [config.numVirtualTokens, H], data: promptEmbeddings } }, { format: 'pt' }),
    'README.md': enc.encode(modelCard(config)),
  };
}

/** An adapter folder's parsed adapter_config.json and its weights file, with the errors every reader gives. */
export function adapterFolderParts(files: Record<string, Uint8Array>): { json: unknown; weights: Uint8Array } {
  const configBytes = files[CONFIG_FILE];
  if (!configBytes) throw new AdapterError(`adapter has no ${CONFIG_FILE}`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(configBytes));
  } catch (e) {
    throw new AdapterError(`${CONFIG_FILE}: not valid JSON (${(e as Error).message})`);
  }
  const weights = files[WEIGHTS_FILE];
  if (!weights) {
    if (files[LEGACY_WEIGHTS_FILE]) {
      throw new AdapterError(
        `${LEGACY_WEIGHTS_FILE} is a pickled PyTorch file and is never executed here. Re-save it as safetensors in Python: ` +
          `PeftModel.from_pretrained(base, folder).save_pretrained(out_folder, safe_serialization=True)`,
      );
    }
    throw new AdapterError(`adapter has no ${WEIGHTS_FILE}`);
  }
  return { json, weights };
}

/** Reads an adapter from its files (config and weights; other files are ignored). */
export function readAdapter(files: Record<string, Uint8Array>): PromptAdapter {
  const { json, weights } = adapterFolderParts(files);
  const config = parseConfigJson(json);
  let parsed;
  try {
    parsed = parseSafetensors(weights, WEIGHTS_FILE);
  } catch (e) {
    if (e instanceof SafetensorsError) throw new AdapterError(e.message);
    throw e;
  }
  const key = parsed.has(PROMPT_KEY) ? PROMPT_KEY : parsed.names().find((n) => n.endsWith(`.${PROMPT_KEY}`) || n.endsWith(`${PROMPT_KEY}.weight`));
  if (!key) throw new AdapterError(`${WEIGHTS_FILE}: no "${PROMPT_KEY}" tensor (found: ${parsed.names().join(', ') || 'none'})`);
  const { shape, data } = (() => {
    try {
      return parsed.get(key);
    } catch (e) {
      throw new AdapterError((e as Error).message);
    }
  })();
  if (shape.length !== 2) throw new AdapterError(`${WEIGHTS_FILE}: "${key}" must be 2-D [num_virtual_tokens, token_dim], got ${JSON.stringify(shape)}`);
  if (shape[0] !== config.numVirtualTokens) throw new AdapterError(`${WEIGHTS_FILE}: "${key}" has ${shape[0]} rows but ${CONFIG_FILE} says num_virtual_tokens ${config.numVirtualTokens}`);
  if (config.tokenDim !== null && shape[1] !== config.tokenDim) throw new AdapterError(`${WEIGHTS_FILE}: "${key}" has width ${shape[1]} but ${CONFIG_FILE} says token_dim ${config.tokenDim}`);
  if (!data.every(Number.isFinite)) throw new AdapterError(`${WEIGHTS_FILE}: "${key}" contains NaN or Inf values`);
  return { config: { ...config, tokenDim: shape[1] }, promptEmbeddings: data };
}

/**
 * Checks an adapter against the loaded model: a wrong width is an error (PEFT's strict
 * load_state_dict would refuse it too); a different base model or revision is a warning.
 */
export function checkAdapterFits(adapter: PromptAdapter, model: ModelConfig, origin: ModelOrigin): string[] {
  const { config } = adapter;
  if (config.tokenDim !== model.hiddenSize) {
    throw new AdapterError(
      `adapter prompt_embeddings are ${config.tokenDim} wide but the loaded model's hidden size is ${model.hiddenSize}: it was trained for another model${config.baseModel ? ` (${config.baseModel})` : ''}`,
    );
  }
  if (config.numVirtualTokens >= model.contextLength) throw new AdapterError(`adapter has ${config.numVirtualTokens} virtual tokens, as many as the model's whole context (${model.contextLength})`);
  return baseWarnings(config.baseModel, config.revision, origin);
}

/** The revision a model was read at: the commit the Hub resolved, or the Hub revision asked for; null where unknown (a local folder). */
export function baseRevision(origin: ModelOrigin): string | null {
  return origin.commit ?? (origin.kind === 'hub' ? origin.revision : null);
}

/** Warnings when an adapter names another base model or revision than the loaded one (any method). */
export function baseWarnings(baseModel: string | null, revision: string | null, origin: ModelOrigin): string[] {
  const warnings: string[] = [];
  if (baseModel === null) warnings.push(`adapter names no base model; using the loaded ${origin.id}`);
  else if (!sameBase(baseModel, origin)) warnings.push(`adapter was trained on ${baseModel}, the loaded model is ${origin.id}`);
  const loadedRevision = origin.commit ?? origin.revision;
  if (revision && loadedRevision && revision !== loadedRevision) warnings.push(`adapter was trained on revision ${revision}, the loaded model is at ${loadedRevision}`);
  return warnings;
}

/** The last segment of a path ("/models/x/" → "x"): a folder's name, whichever machine wrote it. */
export function folderName(p: string): string {
  return (
    p
      .replace(/[\\/]+$/, '')
      .split(/[\\/]/)
      .pop() ?? p
  );
}

/**
 * Whether an adapter's base_model_name_or_path names the loaded model. A folder model is known
 * here by its folder name, while PEFT records the path it was loaded from ("/data/x" for folder
 * "x"): folders compare by name, Hub ids as they are.
 */
export function sameBase(baseModel: string, origin: ModelOrigin): boolean {
  if (baseModel === origin.id) return true;
  return origin.kind !== 'hub' && folderName(baseModel) === folderName(origin.id);
}
