// A merged copy of a LoRA adapter (PEFT's merge_and_unload): every targeted weight becomes
// W + scale · B A, and the model then runs with no adapter at all (inference at the base model's
// speed). The merged weights are float32; every other tensor keeps its stored bytes and dtype.
import type { WeightStore } from '../../io/checkpoint.ts';
import type { FloatTensor, RawTensor } from '../../io/safetensors.ts';
import type { CausalLM } from '../../models/model.ts';
import { MethodError, paramValues } from '../method.ts';
import { Tuning } from '../index.ts';
import { scaleOf, targetModules, type LoraConfig } from './index.ts';

/** The checkpoint name of a module's weight (GPT-2 and BLOOM Hub checkpoints store theirs without "transformer."). */
function weightName(store: WeightStore, path: string): string {
  for (const name of [`${path}.weight`, `${path.replace(/^transformer\./, '')}.weight`]) if (store.has(name)) return name;
  throw new MethodError(`the checkpoint has no weight for module ${path}`);
}

/** Every tensor of `store`, the LoRA-targeted weights merged with the adapter's trained values. */
export function mergeLora(store: WeightStore, model: CausalLM, config: LoraConfig, values: Float32Array): Record<string, FloatTensor | RawTensor> {
  const tuning = new Tuning(model, { method: 'lora', ...config });
  const scale = scaleOf(config);
  const out: Record<string, FloatTensor | RawTensor> = {};
  const merged = new Map<string, FloatTensor>();
  const r = config.r;
  for (const m of targetModules(model, config)) {
    const name = weightName(store, m.path);
    const A = paramValues(values, tuning.params, `base_model.model.${m.path}.lora_A.default.weight`); // [r, in]
    const B = paramValues(values, tuning.params, `base_model.model.${m.path}.lora_B.default.weight`); // [out, r]
    const w = store.get(name);
    // Linear weights are [out, in]; GPT-2's Conv1D weights [in, out] (PEFT's fan_in_fan_out).
    const conv = model.config.family === 'gpt2';
    const [outF, inF] = [m.outFeatures, m.inFeatures];
    const want = conv ? [inF, outF] : [outF, inF];
    if (w.shape[0] !== want[0] || w.shape[1] !== want[1]) throw new MethodError(`${name} is ${JSON.stringify(w.shape)}, LoRA on ${m.path} expects ${JSON.stringify(want)}`);
    const data = Float32Array.from(w.data);
    for (let o = 0; o < outF; o++) {
      for (let i = 0; i < inF; i++) {
        let d = 0;
        for (let k = 0; k < r; k++) d += B[o * r + k] * A[k * inF + i];
        data[conv ? i * outF + o : o * inF + i] += scale * d;
      }
    }
    merged.set(name, { shape: w.shape, data });
  }
  for (const name of store.names()) out[name] = merged.get(name) ?? store.raw(name);
  return out;
}
