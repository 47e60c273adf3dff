import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { adapterFiles, checkAdapterFits, makeAdapter, readAdapter } from '../src/engine/adapter/adapter.ts';
import { modelCard } from '../src/engine/adapter/model-card.ts';
import { exportConfigJson, parseConfigJson } from '../src/engine/adapter/peft-config.ts';
import { writeSafetensors } from '../src/engine/io/safetensors.ts';
import { loadModel, type LoadedModel, type ModelOrigin } from '../src/engine/load.ts';
import { initNodeBackend } from '../src/node/backend.ts';
import { FolderSource } from '../src/node/folder-source.ts';
import { LOCAL_FIXTURES } from './support/fixtures.ts';

const CONFIGS = path.join(LOCAL_FIXTURES, 'peft-configs');
const enc = new TextEncoder();

function filesFor(config: unknown, shape: [number, number], key = 'prompt_embeddings'): Record<string, Uint8Array> {
  const data = Float32Array.from({ length: shape[0] * shape[1] }, (_, i) => Math.sin(i));
  return {
    'adapter_config.json': enc.encode(JSON.stringify(config)),
    'adapter_model.safetensors': writeSafetensors({ [key]: { shape, data } }, { format: 'pt' }),
  };
}

describe('PEFT adapter import', () => {
  for (const file of readdirSync(CONFIGS).filter((f) => f.endsWith('.json'))) {
    it(`accepts ${file}`, () => {
      const json = JSON.parse(readFileSync(path.join(CONFIGS, file), 'utf8'));
      const V = json.num_virtual_tokens;
      const H = json.token_dim ?? 48;
      const adapter = readAdapter(filesFor(json, [V, H]));
      expect(adapter.config.numVirtualTokens).toBe(V);
      expect(adapter.config.tokenDim).toBe(H);
      expect(['TEXT', 'SAMPLE_VOCAB', 'RANDOM']).toContain(adapter.config.init);
      expect(adapter.promptEmbeddings.length).toBe(V * H);
    });
  }

  it('strips the PromptTuningInit. prefix and takes token_dim from the tensor when absent', () => {
    expect(parseConfigJson(JSON.parse(readFileSync(path.join(CONFIGS, 'enum-string.json'), 'utf8'))).init).toBe('TEXT');
    const minimal = JSON.parse(readFileSync(path.join(CONFIGS, 'minimal.json'), 'utf8'));
    expect(readAdapter(filesFor(minimal, [20, 64])).config.tokenDim).toBe(64);
  });

  it("accepts a P_TUNING adapter's prompt_embeddings and F16 tensors", () => {
    const cfg = { peft_type: 'P_TUNING', num_virtual_tokens: 2, token_dim: 4, task_type: 'CAUSAL_LM' };
    const json = JSON.stringify({ prompt_embeddings: { dtype: 'F16', shape: [2, 4], data_offsets: [0, 16] } });
    const header = enc.encode(json);
    const weights = new Uint8Array(8 + header.length + 16);
    new DataView(weights.buffer).setUint32(0, header.length, true);
    weights.set(header, 8);
    weights.set(new Uint8Array(new Uint16Array(8).fill(0x3c00).buffer), 8 + header.length);
    const a = readAdapter({ 'adapter_config.json': enc.encode(JSON.stringify(cfg)), 'adapter_model.safetensors': weights });
    expect(Array.from(a.promptEmbeddings)).toEqual(new Array(8).fill(1));
  });

  const bad: [string, Record<string, Uint8Array>, RegExp][] = [
    ['no config', { 'adapter_model.safetensors': new Uint8Array(8) }, /no adapter_config.json/],
    ['a config that is not JSON', { 'adapter_config.json': enc.encode('{oops') }, /adapter_config.json: not valid JSON/],
    ['a LoRA config', filesFor({ peft_type: 'LORA', num_virtual_tokens: 2 }, [2, 4]), /peft_type is "LORA"/],
    ['a seq2seq task', filesFor({ peft_type: 'PROMPT_TUNING', task_type: 'SEQ_2_SEQ_LM', num_virtual_tokens: 2 }, [2, 4]), /only CAUSAL_LM/],
    ['no num_virtual_tokens', filesFor({ peft_type: 'PROMPT_TUNING' }, [2, 4]), /"num_virtual_tokens" is required/],
    ['a bad init value', filesFor({ peft_type: 'PROMPT_TUNING', num_virtual_tokens: 2, prompt_tuning_init: 'ZEROS' }, [2, 4]), /prompt_tuning_init "ZEROS"/],
    ['rows that differ from num_virtual_tokens', filesFor({ peft_type: 'PROMPT_TUNING', num_virtual_tokens: 3 }, [2, 4]), /has 2 rows but adapter_config.json says num_virtual_tokens 3/],
    ['a width that differs from token_dim', filesFor({ peft_type: 'PROMPT_TUNING', num_virtual_tokens: 2, token_dim: 8 }, [2, 4]), /width 4 but adapter_config.json says token_dim 8/],
    ['a tensor under another key', filesFor({ peft_type: 'PROMPT_TUNING', num_virtual_tokens: 2 }, [2, 4], 'lora_A'), /no "prompt_embeddings" tensor \(found: lora_A\)/],
    [
      'a corrupt weights file',
      { 'adapter_config.json': enc.encode('{"peft_type":"PROMPT_TUNING","num_virtual_tokens":2}'), 'adapter_model.safetensors': enc.encode('garbage!garbage!') },
      /adapter_model.safetensors: header length/,
    ],
    [
      'only a pickled adapter_model.bin',
      { 'adapter_config.json': enc.encode('{"peft_type":"PROMPT_TUNING","num_virtual_tokens":2}'), 'adapter_model.bin': new Uint8Array(10) },
      /never executed.*safe_serialization=True/,
    ],
  ];
  for (const [what, files, message] of bad) {
    it(`rejects ${what} with a clear error`, () => expect(() => readAdapter(files)).toThrow(message));
  }

  it('rejects NaN values in the prompt', () => {
    const files = filesFor({ peft_type: 'PROMPT_TUNING', num_virtual_tokens: 1 }, [1, 2]);
    files['adapter_model.safetensors'] = writeSafetensors({ prompt_embeddings: { shape: [1, 2], data: Float32Array.from([1, NaN]) } });
    expect(() => readAdapter(files)).toThrow(/NaN or Inf/);
  });
});

describe('adapter against the loaded model', () => {
  let lm: LoadedModel;
  beforeAll(async () => {
    await initNodeBackend();
    lm = await loadModel(new FolderSource(path.join(LOCAL_FIXTURES, 'tiny-llama')));
  });

  it('rejects a width that does not fit the model', () => {
    const a = readAdapter(filesFor({ peft_type: 'PROMPT_TUNING', num_virtual_tokens: 4, base_model_name_or_path: 'org/other' }, [4, 48]));
    expect(() => checkAdapterFits(a, lm.model.config, lm.origin)).toThrow(/48 wide but the loaded model's hidden size is 32: it was trained for another model \(org\/other\)/);
  });

  it('warns on a different base model or revision, and on a missing base', () => {
    const origin: ModelOrigin = { kind: 'hub', id: 'org/model', revision: 'main', commit: 'a'.repeat(40) };
    const other = readAdapter(filesFor({ peft_type: 'PROMPT_TUNING', num_virtual_tokens: 4, base_model_name_or_path: 'org/else', revision: 'b'.repeat(40) }, [4, 32]));
    const w = checkAdapterFits(other, lm.model.config, origin);
    expect(w).toEqual([`adapter was trained on org/else, the loaded model is org/model`, `adapter was trained on revision ${'b'.repeat(40)}, the loaded model is at ${'a'.repeat(40)}`]);
    const nullBase = { ...JSON.parse(readFileSync(path.join(CONFIGS, 'peft-null-base.json'), 'utf8')), token_dim: 32, num_virtual_tokens: 4 };
    const none = readAdapter(filesFor(nullBase, [4, 32]));
    expect(checkAdapterFits(none, lm.model.config, origin)).toEqual(['adapter names no base model; using the loaded org/model']);
    const same = readAdapter(filesFor({ peft_type: 'PROMPT_TUNING', num_virtual_tokens: 4, base_model_name_or_path: 'org/model', revision: 'a'.repeat(40) }, [4, 32]));
    expect(checkAdapterFits(same, lm.model.config, origin)).toEqual([]);
  });

  it('compares a folder model by its folder name, as PEFT records the path it loaded from', () => {
    const folder: ModelOrigin = { kind: 'folder', id: 'tiny-llama', revision: null, commit: null };
    const fromPeft = readAdapter(filesFor({ peft_type: 'PROMPT_TUNING', num_virtual_tokens: 4, base_model_name_or_path: '/home/me/models/tiny-llama/' }, [4, 32]));
    expect(checkAdapterFits(fromPeft, lm.model.config, folder)).toEqual([]);
    const otherFolder = readAdapter(filesFor({ peft_type: 'PROMPT_TUNING', num_virtual_tokens: 4, base_model_name_or_path: '/home/me/models/tiny-gpt2' }, [4, 32]));
    expect(checkAdapterFits(otherFolder, lm.model.config, folder)).toEqual(['adapter was trained on /home/me/models/tiny-gpt2, the loaded model is tiny-llama']);
    // A Hub id is never matched by its last segment.
    const hub: ModelOrigin = { kind: 'hub', id: 'org/tiny-llama', revision: 'main', commit: null };
    const bare = readAdapter(filesFor({ peft_type: 'PROMPT_TUNING', num_virtual_tokens: 4, base_model_name_or_path: 'other/tiny-llama' }, [4, 32]));
    expect(checkAdapterFits(bare, lm.model.config, hub)).toHaveLength(1);
  });

  it('exports the pinned commit as revision and the Hub id as tokenizer for TEXT init only', () => {
    const origin: ModelOrigin = { kind: 'hub', id: 'org/model', revision: 'main', commit: 'c'.repeat(40) };
    const text = exportConfigJson(makeAdapter(new Float32Array(64), lm.model.config, origin, { kind: 'TEXT', text: 'Hi' }).config);
    expect(text).toMatchObject({
      base_model_name_or_path: 'org/model',
      revision: 'c'.repeat(40),
      tokenizer_name_or_path: 'org/model',
      prompt_tuning_init_text: 'Hi',
      num_layers: 2,
      num_attention_heads: 4,
      token_dim: 32,
      num_virtual_tokens: 2,
    });
    const random = exportConfigJson(makeAdapter(new Float32Array(64), lm.model.config, origin, { kind: 'RANDOM', text: 'ignored' }).config);
    expect(random).toMatchObject({ tokenizer_name_or_path: null, prompt_tuning_init_text: null, prompt_tuning_init: 'RANDOM' });
  });

  it('writes a model card PEFT recognises, with the loading lines on the pinned revision', () => {
    const origin: ModelOrigin = { kind: 'hub', id: 'org/model', revision: 'main', commit: 'd'.repeat(40) };
    const files = adapterFiles(makeAdapter(new Float32Array(64), lm.model.config, origin, { kind: 'SAMPLE_VOCAB' }));
    const card = new TextDecoder().decode(files['README.md']);
    expect(card.startsWith('---\nbase_model: org/model\nlibrary_name: peft\n')).toBe(true);
    expect(card).toContain(`AutoModelForCausalLM.from_pretrained("org/model", revision="${'d'.repeat(40)}")`);
    expect(card).toContain('PeftModel.from_pretrained(base,');
    expect(modelCard(makeAdapter(new Float32Array(64), lm.model.config, origin, { kind: 'RANDOM' }).config, { facts: { accuracy: 0.9 } })).toContain('- accuracy: 0.9');
  });
});
