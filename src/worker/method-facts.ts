// A method's size on the loaded model, for the settings form: its trainable values, the
// adapter file PEFT would save and, for LoRA, the modules it adapts (PEFT's default shown).
import { writeSafetensors } from '../engine/io/safetensors.ts';
import { Tuning, type MethodConfig } from '../engine/methods/index.ts';
import { DEFAULT_TARGETS, targetModules } from '../engine/methods/lora/index.ts';
import { MethodError } from '../engine/methods/method.ts';
import type { LoadedModel } from '../engine/load.ts';
import { EngineError } from './engine-error.ts';
import type { MethodFacts } from './protocol.ts';

export function methodFacts(lm: LoadedModel, method: MethodConfig): MethodFacts {
  try {
    const tuning = new Tuning(lm.model, method);
    const saved = tuning.save(new Float32Array(tuning.size));
    const modules = method.method === 'lora' ? targetModules(lm.model, method) : [];
    return {
      trainableParams: tuning.size,
      adapterBytes: writeSafetensors(saved, { format: 'pt' }).byteLength,
      contextTokens: tuning.contextTokens,
      targetModules: [...new Set(modules.map((m) => m.name))],
      defaultTargetModules: DEFAULT_TARGETS[lm.model.config.modelType] ? [...DEFAULT_TARGETS[lm.model.config.modelType]] : null,
      adaptedModules: modules.length,
    };
  } catch (e) {
    if (e instanceof MethodError) throw new EngineError(e.message);
    throw e;
  }
}
