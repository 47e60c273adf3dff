import * as tf from '@tensorflow/tfjs-core';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseSafetensors, writeSafetensors } from '../src/engine/io/safetensors.ts';
import { loadModel } from '../src/engine/load.ts';
import { modelConfig, SUPPORTED_MODEL_TYPES } from '../src/engine/models/registry.ts';
import { alibiSlopes } from '../src/engine/models/bloom.ts';
import { ropeInverseFrequencies } from '../src/engine/models/rope-config.ts';
import { buildModel } from '../src/engine/models/registry.ts';
import { RandomWeights } from '../src/engine/models/random-weights.ts';
import { batchFromJson } from '../src/engine/prompt/batch.ts';
import { lossAndGradient } from '../src/engine/prompt/prompted.ts';
import { initNodeBackend } from '../src/node/backend.ts';
import { FolderSource } from '../src/node/folder-source.ts';
import { LOCAL_FIXTURES, readCase } from './support/fixtures.ts';

function copyModel(name: string, edit: { config?: (c: Record<string, unknown>) => void; weights?: (w: Record<string, { shape: number[]; data: Float32Array }>) => void }): string {
  const src = path.join(LOCAL_FIXTURES, name);
  const dir = mkdtempSync(path.join(os.tmpdir(), `${name}-`));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(src, f), path.join(dir, f));
  const config = JSON.parse(readFileSync(path.join(src, 'config.json'), 'utf8'));
  edit.config?.(config);
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  const parsed = parseSafetensors(new Uint8Array(readFileSync(path.join(src, 'model.safetensors'))), 'model.safetensors');
  const weights = Object.fromEntries(parsed.names().map((n) => [n, parsed.get(n)]));
  edit.weights?.(weights);
  writeFileSync(path.join(dir, 'model.safetensors'), writeSafetensors(weights, { format: 'pt' }));
  return dir;
}

describe('model families', () => {
  beforeAll(() => initNodeBackend());

  it('rejects an unsupported model_type, listing the supported ones', async () => {
    const dir = copyModel('tiny-llama', { config: (c) => (c.model_type = 'mamba') });
    await expect(loadModel(new FolderSource(dir))).rejects.toThrow(`model_type "mamba" is not supported (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`);
    expect(SUPPORTED_MODEL_TYPES).toEqual(expect.arrayContaining(['gpt2', 'llama', 'qwen2', 'bloom']));
  });

  it('names a missing weight', async () => {
    const dir = copyModel('tiny-gpt2', { weights: (w) => delete w['transformer.h.1.mlp.c_fc.weight'] });
    await expect(loadModel(new FolderSource(dir))).rejects.toThrow('gpt2: checkpoint is missing weight "transformer.h.1.mlp.c_fc.weight"');
  });

  it('names a weight whose shape contradicts config.json', async () => {
    const dir = copyModel('tiny-llama', { config: (c) => (c.intermediate_size = 96) });
    await expect(loadModel(new FolderSource(dir))).rejects.toThrow(/weight "model.layers.0.mlp.gate_proj.weight" has shape \[64,32\], config.json implies \[96,32\]/);
  });

  it('names a missing or malformed config field', () => {
    expect(() => modelConfig({ model_type: 'llama', hidden_size: 32 })).toThrow('llama: config.json is missing "num_attention_heads"');
    expect(() => modelConfig({ model_type: 'gpt2', n_embd: 'wide' })).toThrow('gpt2: config.json field "n_embd" must be a number, got "wide"');
    expect(() => modelConfig({})).toThrow('config.json has no "model_type" string');
  });

  it('requires lm_head.weight when embeddings are untied', async () => {
    const dir = copyModel('tiny-llama', { weights: (w) => delete w['lm_head.weight'] });
    await expect(loadModel(new FolderSource(dir))).rejects.toThrow(/tie_word_embeddings is false but the checkpoint has no "lm_head.weight"/);
  });

  it("keeps weights frozen: no variables, and the only gradient is the prompt's", async () => {
    const before = Object.keys(tf.engine().registeredVariables).length;
    const lm = await loadModel(new FolderSource(path.join(LOCAL_FIXTURES, 'tiny-qwen2')));
    expect(Object.keys(tf.engine().registeredVariables).length).toBe(before);
    const { json, expected } = readCase(path.join(LOCAL_FIXTURES, 'tiny-qwen2'), 'forward');
    const pe = expected!.get('prompt_embeddings');
    const prompt = tf.tensor2d(pe.data, pe.shape as [number, number]);
    // A weight gradient would be a computed kernel output shaped like a weight matrix (Identity
    // kernels are the tape keeping references to saved inputs, not computation).
    const weightShapes = new Set(['32,32', '32,64', '64,32', '32,16', '16,32', '512,32', '32,512']);
    const profile = await tf.profile(() => lossAndGradient(lm.model, prompt, batchFromJson(json, 'forward')));
    const weightShaped = profile.kernels.filter((k) => k.name !== 'Identity' && k.outputShapes.some((s) => s && weightShapes.has(s.join(','))));
    expect(profile.kernels.length).toBeGreaterThan(50);
    expect(weightShaped).toEqual([]);
    prompt.dispose();
    lm.dispose();
  });

  it('computes ALiBi slopes as transformers does, including non-powers of two', () => {
    expect(Array.from(alibiSlopes(4))).toEqual([0.25, 0.0625, 0.015625, 0.00390625]);
    const s12 = alibiSlopes(12);
    expect(s12.length).toBe(12);
    // 8 slopes of base 2^-1, then odd powers of the 16-head base 2^-0.5
    expect(s12[7]).toBeCloseTo(2 ** -8, 9);
    expect(s12[8]).toBeCloseTo(2 ** -0.5, 6);
    expect(s12[9]).toBeCloseTo(2 ** -1.5, 6);
  });

  it('applies llama3 RoPE scaling and rejects unknown scaling types', () => {
    const plain = ropeInverseFrequencies({ model_type: 'llama', rope_theta: 500000 }, 64);
    const scaled = ropeInverseFrequencies(
      { model_type: 'llama', rope_theta: 500000, rope_scaling: { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 } },
      64,
    );
    expect(scaled[0]).toBeCloseTo(plain[0], 10); // high frequencies untouched
    expect(scaled[31]).toBeCloseTo(plain[31] / 32, 12); // low frequencies divided by the factor
    expect(() => ropeInverseFrequencies({ model_type: 'llama', rope_scaling: { type: 'yarn', factor: 2 } }, 64)).toThrow(/"rope_scaling" rope_type "yarn" is not supported/);
  });

  it('reads RoPE from the transformers-5 layout (rope_parameters) as from the top-level fields', () => {
    const t4 = ropeInverseFrequencies(
      { model_type: 'llama', rope_theta: 500000, rope_scaling: { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 } },
      64,
    );
    const t5 = ropeInverseFrequencies(
      { model_type: 'llama', rope_parameters: { rope_type: 'llama3', rope_theta: 500000, factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 } },
      64,
    );
    expect(Array.from(t5)).toEqual(Array.from(t4));
    expect(ropeInverseFrequencies({ model_type: 'qwen2', rope_parameters: { rope_type: 'default', rope_theta: 1e6 } }, 8)[1]).toBeCloseTo(1e6 ** -0.25, 7);
    // Gemma 3: per layer type, or rope_local_base_freq for the sliding layers in the old layout.
    const g5 = { model_type: 'gemma3_text', rope_parameters: { sliding_attention: { rope_type: 'default', rope_theta: 1e4 }, full_attention: { rope_type: 'linear', factor: 8, rope_theta: 1e6 } } };
    const g4 = { model_type: 'gemma3_text', rope_theta: 1e6, rope_local_base_freq: 1e4, rope_scaling: { rope_type: 'linear', factor: 8 } };
    const thetas = { full: 1e6, sliding: 1e4 };
    for (const t of ['sliding_attention', 'full_attention'] as const) expect(Array.from(ropeInverseFrequencies(g4, 16, t, thetas))).toEqual(Array.from(ropeInverseFrequencies(g5, 16, t, thetas)));
    expect(ropeInverseFrequencies(g5, 16, 'full_attention', thetas)[1]).toBeCloseTo(1e6 ** -0.125 / 8, 8);
  });

  it('refuses RoPE and attention settings it does not implement, naming the field', async () => {
    const rope = (raw: Record<string, unknown>) => () => ropeInverseFrequencies({ model_type: 'llama', ...raw }, 64);
    expect(rope({ rope_parameters: { rope_type: 'dynamic', rope_theta: 1e4, factor: 2 } })).toThrow('llama: config.json "rope_parameters" rope_type "dynamic" is not supported');
    expect(rope({ rope_parameters: { rope_type: 'linear', rope_theta: 1e4, factor: 2, attention_factor: 2 } })).toThrow('"rope_parameters.attention_factor" is not supported for rope_type "linear"');
    expect(rope({ partial_rotary_factor: 0.5 })).toThrow('"partial_rotary_factor" 0.5 is not supported');
    expect(rope({ rope_parameters: { full_attention: { rope_type: 'default' } } })).toThrow('"rope_parameters" is nested by layer type');
    const base = { hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 40, vocab_size: 50 };
    const build = (raw: Record<string, unknown>) => () => buildModel({ ...base, ...raw }, new RandomWeights(1)).dispose();
    expect(build({ model_type: 'gemma3_text', rope_parameters: { sliding_attention: { rope_type: 'yarn', factor: 2 }, full_attention: { rope_type: 'default' } } })).toThrow(
      'gemma3_text: config.json "rope_parameters.sliding_attention" rope_type "yarn" is not supported',
    );
    expect(build({ model_type: 'gemma3_text', use_bidirectional_attention: true })).toThrow('"use_bidirectional_attention" true is not supported');
    expect(build({ model_type: 'gemma2', attn_logit_softcapping: 'high' })).toThrow('"attn_logit_softcapping" must be a positive number or null');
    expect(build({ model_type: 'gemma2', layer_types: ['sliding_attention'] })).toThrow('"layer_types" must list');
    expect(build({ model_type: 'phi3', rope_parameters: { rope_type: 'longrope', rope_theta: 1e4, short_factor: [1], long_factor: [1] } })).toThrow('rope_type "longrope" is not supported');
    expect(build({ model_type: 'qwen3', layer_types: ['sliding_attention', 'full_attention'], use_sliding_window: true, sliding_window: null })).toThrow(
      'layer 0 is a sliding_attention layer but config.json has no "sliding_window"',
    );
    expect(build({ model_type: 'mistral', layer_types: ['sliding_attention', 'full_attention'], sliding_window: 4 })).toThrow('mixes layer types');
    for (const t of ['qwen3', 'gemma', 'gemma2', 'gemma3_text', 'mistral', 'phi3', 'olmo2']) expect(SUPPORTED_MODEL_TYPES).toContain(t);
  });
});
