// Adapter folders of every method: what is written is read back the same, P-tuning and projected
// prefixes carry their full trainable state beside PEFT's files, and what does not fit is refused
// with the tensor or field named.
import { beforeAll, describe, expect, it } from 'vitest';
import { methodAdapterFiles, readMethodAdapter, STATE_FILE, trainableValues } from '../src/engine/adapter/method-adapter.ts';
import { methodConfigFromJson, methodConfigJson } from '../src/engine/adapter/method-config.ts';
import { Tuning, type MethodConfig } from '../src/engine/methods/index.ts';
import { buildModel } from '../src/engine/models/registry.ts';
import { RandomWeights } from '../src/engine/models/random-weights.ts';
import { initNodeBackend } from '../src/node/backend.ts';

const LLAMA = { model_type: 'llama', hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 40, vocab_size: 50 };
const META = { baseModel: 'org/model', revision: 'abc' };
const CONFIGS: MethodConfig[] = [
  { method: 'prompt', numVirtualTokens: 4, init: 'RANDOM', initText: null },
  { method: 'prefix', numVirtualTokens: 3, prefixProjection: false, encoderHiddenSize: null, initWeights: null },
  { method: 'prefix', numVirtualTokens: 3, prefixProjection: true, encoderHiddenSize: 8, initWeights: null },
  { method: 'p_tuning', numVirtualTokens: 2, encoderType: 'MLP', encoderHiddenSize: 6, encoderNumLayers: 2, encoderDropout: 0 },
  { method: 'p_tuning', numVirtualTokens: 2, encoderType: 'LSTM', encoderHiddenSize: 6, encoderNumLayers: 1, encoderDropout: 0 },
  { method: 'lora', r: 2, alpha: 4, dropout: 0.1, targetModules: ['q_proj', 'down_proj'], useRslora: true },
  { method: 'lora', r: 2, alpha: 4, dropout: 0, targetModules: 'model\\.layers\\.1\\..*_proj', useRslora: false },
];

beforeAll(() => initNodeBackend());

describe('method adapter folders', () => {
  for (const config of CONFIGS) {
    it(`${config.method} ${JSON.stringify(config)}: written and read back`, async () => {
      const model = buildModel(LLAMA, new RandomWeights(3));
      const tuning = new Tuning(model, config);
      const values = await tuning.init(null, 9);
      const back = readMethodAdapter(methodAdapterFiles(tuning, values, META));
      expect(back.meta).toEqual(META);
      expect(back.config).toEqual(config);
      const keepsState = config.method === 'p_tuning' || (config.method === 'prefix' && config.prefixProjection);
      expect(back.state !== null).toBe(keepsState);
      // The full trainable values come back (from the state file, or PEFT's tensors when they are the trainable ones).
      expect(Array.from(trainableValues(back, new Tuning(model, back.config)))).toEqual(Array.from(values));
      model.dispose();
    });
  }

  it('a P-tuning folder without its state cannot continue training, and says why', async () => {
    const model = buildModel(LLAMA, new RandomWeights(3));
    const tuning = new Tuning(model, CONFIGS[3]);
    const files = methodAdapterFiles(tuning, await tuning.init(null, 1), META);
    delete files[STATE_FILE];
    const back = readMethodAdapter(files);
    expect(() => trainableValues(back, tuning)).toThrow(/holds only the output of the p_tuning encoder .* no playground_state.safetensors/);
    model.dispose();
  });

  it('refuses LoRA settings it does not implement, naming the field', () => {
    const base = methodConfigJson(CONFIGS[5], buildModel(LLAMA, new RandomWeights(3)), META);
    for (const [field, value] of [
      ['bias', 'all'],
      ['use_dora', true],
      ['rank_pattern', { q_proj: 4 }],
      ['modules_to_save', ['lm_head']],
      ['layers_to_transform', [0]],
    ] as const) {
      expect(() => methodConfigFromJson({ ...base, [field]: value }), field).toThrow(new RegExp(`"${field}" .* is not supported here`));
    }
    expect(() => methodConfigFromJson({ ...base, peft_type: 'IA3' })).toThrow(/peft_type is "IA3"; supported: PROMPT_TUNING, PREFIX_TUNING, P_TUNING, LORA/);
  });
});
