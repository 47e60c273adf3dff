// The adapter folder of any method, as PEFT's save_pretrained writes it: adapter_config.json,
// adapter_model.safetensors (the method's saved tensors) and a README.md model card.
import { parseSafetensors, SafetensorsError, writeSafetensors } from '../io/safetensors.ts';
import { Tuning, type MethodConfig } from '../methods/index.ts';
import { MethodError, savedTensor, type Injection, type NamedTensor } from '../methods/method.ts';
import type { CausalLM } from '../models/model.ts';
import { adapterFolderParts, CONFIG_FILE, WEIGHTS_FILE } from './adapter.ts';
import { methodConfigFromJson, methodConfigJson, type AdapterMeta } from './method-config.ts';
import { adapterCard, type CardExtras } from './model-card.ts';
import { AdapterError } from './peft-config.ts';

export interface MethodAdapter {
  config: MethodConfig;
  meta: AdapterMeta;
  /** adapter_model.safetensors' tensors by name. */
  saved: Record<string, NamedTensor>;
  /** STATE_FILE's tensors (every trainable tensor, by PEFT's parameter name), when the folder has it. */
  state: Record<string, NamedTensor> | null;
}

/**
 * Every trainable tensor of a method whose PEFT files keep only its output (P-tuning's encoder, a
 * prefix's projection), by PEFT's named_parameters() name: a run continues from it here (and in
 * PEFT by load_state_dict(..., strict=False) on a model built with the same config).
 */
export const STATE_FILE = 'playground_state.safetensors';

/** Whether PEFT's saved tensors are not the method's trainable ones. */
const savesOnlyOutput = (c: MethodConfig) => c.method === 'p_tuning' || (c.method === 'prefix' && c.prefixProjection);

/** The flat trainable values of a folder: its state file when it has one, else PEFT's saved tensors if they are the trainable ones. */
export function trainableValues(adapter: MethodAdapter, tuning: Tuning): Float32Array {
  if (adapter.state) {
    const out = new Float32Array(tuning.size);
    let at = 0;
    for (const p of tuning.params) {
      const t = savedTensor(adapter.state, p.name, p.shape, STATE_FILE);
      out.set(t.data, at);
      at += t.data.length;
    }
    return out;
  }
  if (savesOnlyOutput(adapter.config)) {
    throw new AdapterError(`${WEIGHTS_FILE} holds only the output of the ${adapter.config.method} encoder (PEFT saves no more) and the folder has no ${STATE_FILE}: training cannot continue from it`);
  }
  return tuning.fromSaved(adapter.saved).values;
}

const enc = new TextEncoder();

/** What the card says each method is, and what PEFT keeps of it. */
function describe(config: MethodConfig, trainable: number): { tag: string; title: string; text: string } {
  const frozen = 'Every weight of the base model stayed frozen.';
  switch (config.method) {
    case 'prompt':
      return { tag: 'prompt-tuning', title: 'Soft prompt', text: `A PEFT prompt-tuning adapter: ${config.numVirtualTokens} virtual tokens prepended to the input embeddings. ${frozen}` };
    case 'prefix':
      return {
        tag: 'prefix-tuning',
        title: 'Prefix',
        text:
          `A PEFT prefix-tuning adapter: ${config.numVirtualTokens} learned keys and values in every layer's attention. ${frozen}` +
          (config.prefixProjection ? ` It was trained through a projection (${trainable} values); PEFT keeps only the prefix it produces, so training cannot resume from this folder in PEFT.` : ''),
      };
    case 'p_tuning':
      return {
        tag: 'p-tuning',
        title: 'P-tuning prompt',
        text: `A PEFT P-tuning adapter: ${config.numVirtualTokens} virtual tokens produced by an ${config.encoderType} prompt encoder (${trainable} trained values). PEFT saves only the encoder's output, so training cannot resume from this folder in PEFT (the playground keeps the encoder in its own runs). ${frozen}`,
      };
    case 'lora':
      return {
        tag: 'lora',
        title: 'LoRA adapter',
        text: `A PEFT LoRA adapter: rank ${config.r}, alpha ${config.alpha}, on ${JSON.stringify(config.targetModules ?? 'the default target modules')} (${trainable} trained values). The base weights stayed frozen.`,
      };
  }
}

/** The adapter folder's files for values trained with `tuning`. */
export function methodAdapterFiles(tuning: Tuning, values: Float32Array, meta: AdapterMeta, extras: CardExtras = {}): Record<string, Uint8Array> {
  const saved = tuning.save(values);
  const d = describe(tuning.config, tuning.size);
  const files: Record<string, Uint8Array> = {
    [CONFIG_FILE]: enc.encode(JSON.stringify(methodConfigJson(tuning.config, tuning.model, meta), null, 2) + '\n'),
    [WEIGHTS_FILE]: writeSafetensors(saved, { format: 'pt' }),
    'README.md': enc.encode(adapterCard({ ...meta, tag: d.tag, title: d.title }, d.text, extras)),
  };
  if (savesOnlyOutput(tuning.config)) {
    const state: Record<string, NamedTensor> = {};
    let at = 0;
    for (const p of tuning.params) {
      const n = p.shape.reduce((a, b) => a * b, 1);
      state[p.name] = { shape: p.shape, data: values.subarray(at, at + n) };
      at += n;
    }
    files[STATE_FILE] = writeSafetensors(state, { format: 'pt' });
  }
  return files;
}

/** Reads any method's adapter folder (config and weights; other files are ignored). */
export function readMethodAdapter(files: Record<string, Uint8Array>): MethodAdapter {
  const { json, weights } = adapterFolderParts(files);
  const { config, meta } = methodConfigFromJson(json);
  const tensors = (bytes: Uint8Array, file: string) => {
    const out: Record<string, NamedTensor> = {};
    try {
      const parsed = parseSafetensors(bytes, file);
      for (const name of parsed.names()) {
        const { shape, data } = parsed.get(name);
        out[name] = { shape, data };
      }
    } catch (e) {
      if (e instanceof SafetensorsError) throw new AdapterError(e.message);
      throw e;
    }
    return out;
  };
  return { config, meta, saved: tensors(weights, WEIGHTS_FILE), state: files[STATE_FILE] ? tensors(files[STATE_FILE], STATE_FILE) : null };
}

/** The adapter's injection on `model`, with an error naming the tensor or module that does not fit. */
export function loadMethodAdapter(adapter: MethodAdapter, model: CausalLM): Injection {
  try {
    return new Tuning(model, adapter.config).load(adapter.saved);
  } catch (e) {
    if (e instanceof MethodError) throw new AdapterError(e.message);
    throw e;
  }
}
