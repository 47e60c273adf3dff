// Pure helpers of the page: the teach panel's warnings, number formats, chart smoothing and
// alignment, and the adapter size shown before training.
import { describe, expect, it } from 'vitest';
import { adapterFiles, makeAdapter } from '../src/engine/adapter/adapter.ts';
import type { ModelConfig } from '../src/engine/models/model.ts';
import { formatBytes, formatDuration, formatTrainablePercent, showPiece } from '../src/ui/common/format.ts';
import { majorityBaseline } from '../src/engine/data/labels.ts';
import { adapterFileBytes } from '../src/ui/prompt/adapter-size.ts';
import { teachWarnings } from '../src/ui/teach/warnings.ts';
import { parseTargetModules } from '../src/ui/prompt/target-modules.ts';
import { align, smooth } from '../src/ui/train/smoothing.ts';
import { DEFAULT_TRAIN_SPEC, type ModelInfo, type PromptSpec } from '../src/worker/protocol.ts';

const model = (over: Partial<ModelInfo> = {}): ModelInfo => ({
  ref: { kind: 'embedded', name: 'm', url: '/models/m/' },
  origin: { kind: 'folder', id: 'm', revision: null, commit: null },
  family: 'llama',
  modelType: 'llama',
  architecture: 'LlamaForCausalLM',
  parameterCount: 135e6,
  hiddenSize: 576,
  numLayers: 30,
  numHeads: 9,
  vocabSize: 49152,
  contextLength: 2048,
  weightBytes: 540e6,
  eosTokenId: 0,
  padTokenId: 0,
  embeddingNorm: 1.2,
  downloadedBytes: 0,
  cachedBytes: 0,
  cacheProblems: [],
  loadSeconds: 1,
  ...over,
});
const prompt = (over: Partial<PromptSpec> = {}): PromptSpec => ({ kind: 'TEXT', text: 'x', numVirtualTokens: 8, seed: 0, ...over });

describe('teach warnings', () => {
  it('warns about models under 1B parameters only', () => {
    expect(teachWarnings(model(), prompt(), DEFAULT_TRAIN_SPEC, 20).map((w) => w.id)).toEqual(['small-model']);
    expect(teachWarnings(model({ parameterCount: 7e9 }), prompt(), DEFAULT_TRAIN_SPEC, 20)).toEqual([]);
  });

  it('warns when V eats the context or leaves too little room for the examples', () => {
    const big = model({ parameterCount: 7e9, contextLength: 512 });
    expect(teachWarnings(big, prompt({ numVirtualTokens: 100 }), DEFAULT_TRAIN_SPEC, 20).map((w) => w.id)).toEqual(['context']);
    expect(teachWarnings(big, prompt({ numVirtualTokens: 20 }), { ...DEFAULT_TRAIN_SPEC, maxLength: 500 }, 20)[0].text).toMatch(/truncated/);
  });

  it('warns when RANDOM init is far off the embedding scale', () => {
    const big = model({ parameterCount: 7e9 });
    const w = teachWarnings(big, prompt({ kind: 'RANDOM' }), DEFAULT_TRAIN_SPEC, 20);
    expect(w.map((x) => x.id)).toEqual(['random-scale']);
    expect(w[0].text).toContain('√576 = 24.00');
    expect(teachWarnings(model({ parameterCount: 7e9, embeddingNorm: 20 }), prompt({ kind: 'RANDOM' }), DEFAULT_TRAIN_SPEC, 20)).toEqual([]);
  });
});

describe('adapter size', () => {
  it('equals the bytes of the adapter_model.safetensors the export writes', () => {
    for (const [V, H] of [
      [8, 32],
      [20, 576],
      [1, 1],
      [100, 1024],
    ]) {
      const config = { hiddenSize: H, numLayers: 2, numHeads: 2 } as ModelConfig;
      const files = adapterFiles(makeAdapter(new Float32Array(V * H), config, { kind: 'hub', id: 'a/b', revision: 'main', commit: null }, { kind: 'RANDOM' }));
      expect(adapterFileBytes(V, H), `${V}x${H}`).toBe(files['adapter_model.safetensors'].byteLength);
    }
  });
});

describe('formats', () => {
  it('prints PEFT-style trainable shares with enough digits', () => {
    expect(formatTrainablePercent(8192, 559_222_784)).toBe('0.00146%');
    expect(formatTrainablePercent(256, 51_616)).toBe('0.496%');
  });
  it('prints bytes, durations and tokens readably', () => {
    expect(formatBytes(208_000)).toBe('208 KB');
    expect(formatBytes(1_400_000_000)).toBe('1.4 GB');
    expect(formatDuration(0.25)).toBe('250 ms');
    expect(formatDuration(75)).toBe('1 min 15 s');
    expect(showPiece('Ġcomplaint')).toBe('␣complaint');
    expect(showPiece('▁Label')).toBe('␣Label');
  });
  it('finds the majority label', () => {
    expect(majorityBaseline([{ target: 'a' }, { target: ' A ' }, { target: 'b' }])).toEqual({ label: 'a', accuracy: 2 / 3 });
    expect(majorityBaseline([])).toBeNull();
    // A tie goes to the label that sorts first, whatever the row order.
    expect(majorityBaseline([{ target: 'b' }, { target: 'a' }])).toEqual({ label: 'a', accuracy: 0.5 });
    expect(majorityBaseline([{ target: 'a' }, { target: 'b' }])).toEqual({ label: 'a', accuracy: 0.5 });
  });
});

describe('chart data', () => {
  it('smooths without lag at the start (debiased EMA)', () => {
    expect(smooth([2, 2, 2], 0.9)).toEqual([2, 2, 2].map((v) => expect.closeTo(v, 10)));
    const s = smooth([4, 0], 0.5);
    expect(s[0]).toBeCloseTo(4);
    expect(s[1]).toBeCloseTo((4 * 0.5 * 0.5 + 0) / (1 - 0.25));
  });
  it('aligns series with different steps on one x axis', () => {
    expect(
      align([
        { x: [1, 2, 3], y: [10, 20, 30] },
        { x: [2, 4], y: [5, 6] },
      ]),
    ).toEqual([
      [1, 2, 3, 4],
      [10, 20, 30, null],
      [null, 5, null, 6],
    ]);
  });
});

describe('LoRA target modules as typed', () => {
  it('reads names, all-linear and regular expressions as PEFT takes them; empty is the default', () => {
    expect(parseTargetModules('')).toBeNull();
    expect(parseTargetModules(' q_proj, v_proj ,')).toEqual(['q_proj', 'v_proj']);
    expect(parseTargetModules('all-linear')).toBe('all-linear');
    expect(parseTargetModules('.*\\.(q|v)_proj')).toBe('.*\\.(q|v)_proj');
  });
});
