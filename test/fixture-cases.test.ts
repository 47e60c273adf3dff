// Every fixture model and case in SPEC.md through the engine, within SPEC.md's tolerances.
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adapterFiles, makeAdapter, readAdapter } from '../src/engine/adapter/adapter.ts';
import { generate } from '../src/engine/generate.ts';
import { loadModel, type LoadedModel } from '../src/engine/load.ts';
import { batchFromJson } from '../src/engine/prompt/batch.ts';
import { initSoftPrompt, textInitIds } from '../src/engine/prompt/init.ts';
import { lossAndGradient, promptForward } from '../src/engine/prompt/prompted.ts';
import { PromptTrainer, type StepEvent } from '../src/engine/train/trainer.ts';
import { readAdapterFolder } from '../src/node/adapter-folder.ts';
import { initNodeBackend } from '../src/node/backend.ts';
import { FolderSource } from '../src/node/folder-source.ts';
import type { ModelSource } from '../src/engine/io/source.ts';
import { errorLog, fixtureModels, hasStories260k, lossTolerance, maxAbsDiff, readCase, tensorTolerance } from './support/fixtures.ts';

/** The folder with another file read as config.json (a fixture's second config layout). */
function withConfig(source: FolderSource, configFile: string | undefined): ModelSource {
  if (!configFile) return source;
  return {
    kind: source.kind,
    id: source.id,
    revision: source.revision,
    resolvedRevision: () => source.resolvedRevision(),
    tryRead: (file, onProgress) => source.tryRead(file === 'config.json' ? configFile : file, onProgress),
    tryOpen: (file, onProgress) => source.tryOpen(file === 'config.json' ? configFile : file, onProgress),
  };
}

function record(model: string, kind: string, error: number, tolerance: number): void {
  errorLog.push({ model, kind, error, tolerance });
  expect(error, `${model} ${kind}: error ${error} exceeds tolerance ${tolerance}`).toBeLessThanOrEqual(tolerance);
}

beforeAll(async () => {
  await initNodeBackend();
});

afterAll(() => {
  const rows = errorLog.map((r) => `${r.model.padEnd(24)} ${r.kind.padEnd(40)} ${r.error.toExponential(2).padStart(9)}  (tol ${r.tolerance.toExponential(1)})`);
  console.log(['max error per model and case kind:', ...rows].join('\n'));
});

const PORTABLE_KEYS = [
  'auto_mapping',
  'base_model_name_or_path',
  'inference_mode',
  'num_attention_heads',
  'num_layers',
  'num_transformer_submodules',
  'num_virtual_tokens',
  'peft_type',
  'prompt_tuning_init',
  'prompt_tuning_init_text',
  'revision',
  'task_type',
  'token_dim',
  'tokenizer_name_or_path',
];
const NAMES_THE_LOADED_MODEL = new Set(['base_model_name_or_path', 'tokenizer_name_or_path', 'revision']);

/** Fixture models read from ../shared whose tokenizer case predates transformers 5: their transformers 5 ids (scripts/fixtures/make_tokenizers.py). */
const TRANSFORMERS5_IDS: Record<string, string> = { stories260k: 'shared-llama-model.ids.json' };

// Visible in the report when the shared fixtures were left out on purpose (PT_SKIP_SHARED=1).
it.skipIf(hasStories260k)('stories260k cases (../shared/fixtures/stories260k is missing)', () => {});

for (const { name, dir, configFile } of fixtureModels()) {
  describe(name, () => {
    let lm: LoadedModel;
    beforeAll(async () => {
      lm = await loadModel(withConfig(new FolderSource(dir), configFile));
    });
    afterAll(() => lm.dispose());

    it('tokenizer: ids and decoded text', async () => {
      // The shared model's tokenizer case holds transformers 4 ids; its transformers 5 ids (no strings,
      // nothing of that model) are committed, and the strings are read from ../shared.
      const c = readCase(dir, 'tokenizer').json;
      const v5 = TRANSFORMERS5_IDS[name];
      if (v5) {
        const committed = JSON.parse(readFileSync(path.join(import.meta.dirname, 'fixtures', 'tokenizers', 'fixture-models', v5), 'utf8'));
        expect(committed.ids.length, `${v5} covers every string of the case`).toBe(c.strings.length);
        Object.assign(c, { ids: committed.ids, decoded: committed.decoded, description: committed.description });
      }
      // Each case says how its decoded strings were made: plain decode(ids), or skip_special_tokens=True.
      const skipSpecial = String(c.description).includes('skip_special_tokens=True');
      c.strings.forEach((s: string, i: number) => {
        expect(lm.tokenizer.encode(s), JSON.stringify(s)).toEqual(c.ids[i]);
        if (c.decoded) expect(lm.tokenizer.decode(c.ids[i], skipSpecial)).toBe(c.decoded[i]);
      });
    });

    const forwardCases = ['forward', ...(existsSync(path.join(dir, 'cases', 'forward-left')) ? ['forward-left'] : [])];
    for (const fwdCase of forwardCases)
      it(`${fwdCase}: logits, loss and prompt gradient`, async () => {
        const { json, expected } = readCase(dir, fwdCase);
        const kind = (k: string) => (fwdCase === 'forward' ? k : `${k} (${fwdCase})`);
        const pe = expected!.get('prompt_embeddings');
        const prompt = tf.tensor2d(pe.data, pe.shape as [number, number]);
        const batch = batchFromJson(json, 'forward');
        const { logits, loss } = promptForward(lm.model, prompt, batch);
        const want = expected!.get('logits');
        expect(logits.shape).toEqual(want.shape);
        record(name, kind('logits'), maxAbsDiff(logits.dataSync(), want.data), tensorTolerance(want.data));
        record(name, kind('loss'), Math.abs(loss!.dataSync()[0] - json.loss), lossTolerance(json.loss));
        const { grad, loss: l2 } = lossAndGradient(lm.model, prompt, batch);
        record(name, kind('loss (label positions only)'), Math.abs(l2.dataSync()[0] - json.loss), lossTolerance(json.loss));
        const g = expected!.get('grad_prompt_embeddings');
        record(name, kind('grad_prompt_embeddings'), maxAbsDiff(grad.dataSync(), g.data), tensorTolerance(g.data));
        tf.dispose([prompt, logits, loss!, grad, l2]);
      });

    for (const caseName of ['init-text-short', 'init-text-long']) {
      it(`${caseName}: TEXT init ids and embeddings`, async () => {
        const { json, expected } = readCase(dir, caseName);
        const V = json.num_virtual_tokens;
        expect(textInitIds(lm.tokenizer, json.init.text, V)).toEqual(json.init.ids);
        const p = await initSoftPrompt(lm.model, lm.tokenizer, { kind: 'TEXT', text: json.init.text, numVirtualTokens: V });
        expect(p.initIds).toEqual(json.init.ids);
        const want = expected!.get('prompt_embeddings');
        record(name, `${caseName} embeddings`, maxAbsDiff(p.values, want.data), 0);
      });
    }

    it('train: 3 AdamW steps with the linear schedule', async () => {
      const { json, expected } = readCase(dir, 'train');
      const t = json.train;
      const batches = t.batches.map((b: unknown, i: number) => batchFromJson(b, `batch ${i}`));
      const start = expected!.get('prompt_embeddings');
      const trainer = new PromptTrainer(
        lm.model,
        start.data,
        json.num_virtual_tokens,
        { epochs: 1, stepsPerEpoch: batches.length, batchesForEpoch: () => batches, valBatches: [] },
        {
          lr: t.lr,
          weightDecay: t.weight_decay,
          betas: t.betas,
          eps: t.eps,
          warmupSteps: t.num_warmup_steps,
        },
      );
      expect(trainer.totalSteps).toBe(t.num_training_steps);
      const steps: StepEvent[] = [];
      const summary = await trainer.run((e) => e.type === 'step' && steps.push(e));
      expect(summary.stopReason).toBe('completed');
      steps.forEach((s, k) => {
        expect(s.lr).toBeCloseTo(t.lrs[k], 12);
        record(name, `train loss step ${k + 1}`, Math.abs(s.loss - t.losses[k]), lossTolerance(t.losses[k]));
      });
      const after = expected!.get('prompt_embeddings_after');
      record(name, 'prompt_embeddings_after', maxAbsDiff(await trainer.promptValues(), after.data), tensorTolerance(after.data));
      trainer.dispose();
    });

    it('greedy: decoding with the soft prompt', async () => {
      const { json, expected } = readCase(dir, 'greedy');
      const pe = expected!.get('prompt_embeddings');
      const prompt = tf.tensor2d(pe.data, pe.shape as [number, number]);
      const g = json.greedy;
      const ids = await generate(lm.model, prompt, g.prompt_ids, { maxNewTokens: g.max_new_tokens, greedy: true, stopTokenIds: [lm.eosTokenId] });
      expect(ids).toEqual(g.output_ids);
      prompt.dispose();
    });

    for (const caseName of [...forwardCases, 'init-text-short', 'init-text-long', 'train', 'greedy']) {
      it(`adapter of ${caseName}: imports, and exports bit for bit with PEFT's 14 portable keys`, async () => {
        const { expected, adapterDir } = readCase(dir, caseName);
        const imported = readAdapterFolder(adapterDir!);
        const want = expected!.get('prompt_embeddings');
        expect(Buffer.from(imported.promptEmbeddings.buffer)).toEqual(Buffer.from(want.data.buffer));
        const fixtureConfig = JSON.parse(readFileSync(path.join(adapterDir!, 'adapter_config.json'), 'utf8'));
        const exported = makeAdapter(imported.promptEmbeddings, lm.model.config, lm.origin, { kind: imported.config.init, text: imported.config.initText });
        const files = adapterFiles(exported);
        const config = JSON.parse(new TextDecoder().decode(files['adapter_config.json']));
        expect(Object.keys(config)).toEqual(PORTABLE_KEYS);
        for (const key of PORTABLE_KEYS) if (!NAMES_THE_LOADED_MODEL.has(key)) expect(config[key], key).toEqual(fixtureConfig[key]);
        expect(config.base_model_name_or_path).toBe(lm.origin.id);
        const reread = readAdapter(files);
        expect(Buffer.from(reread.promptEmbeddings.buffer)).toEqual(Buffer.from(want.data.buffer));
        // The weights file itself: one F32 tensor under PEFT's key, {"format": "pt"} metadata.
        const header = JSON.parse(new TextDecoder().decode(files['adapter_model.safetensors'].subarray(8, 8 + new DataView(files['adapter_model.safetensors'].buffer).getUint32(0, true))));
        expect(header.__metadata__).toEqual({ format: 'pt' });
        expect(header.prompt_embeddings.dtype).toBe('F32');
        expect(header.prompt_embeddings.shape).toEqual(want.shape);
      });
    }
  });
}
