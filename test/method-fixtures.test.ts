// Prefix tuning, P-tuning and LoRA on every family against PEFT 0.21 + transformers 5
// (test/fixtures/methods, made by scripts/fixtures/make_methods.py), within SPEC.md's tolerances:
// logits, loss and the gradient of every trainable tensor (right and left padding), 3 AdamW
// steps, greedy ids, the files PEFT saves, and PEFT's saved adapters loaded here.
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMethodAdapter, methodAdapterFiles, readMethodAdapter } from '../src/engine/adapter/method-adapter.ts';
import { methodConfigFromJson } from '../src/engine/adapter/method-config.ts';
import { generate } from '../src/engine/generate.ts';
import { loadModel, type LoadedModel } from '../src/engine/load.ts';
import { Tuning } from '../src/engine/methods/index.ts';
import { targetModules } from '../src/engine/methods/lora/index.ts';
import { disposeInjection, paramValues } from '../src/engine/methods/method.ts';
import { batchFromJson, type Batch } from '../src/engine/prompt/batch.ts';
import { promptForward, promptLoss } from '../src/engine/prompt/prompted.ts';
import { Trainer, type StepEvent } from '../src/engine/train/trainer.ts';
import { readMethodAdapterFolder } from '../src/node/adapter-folder.ts';
import { initNodeBackend } from '../src/node/backend.ts';
import { FolderSource } from '../src/node/folder-source.ts';
import { errorLog, FAMILY_FIXTURES, LOCAL_FIXTURES, lossTolerance, maxAbsDiff, tensorTolerance } from './support/fixtures.ts';
import { parseSafetensors } from '../src/engine/io/safetensors.ts';

const METHOD_FIXTURES = path.join(LOCAL_FIXTURES, 'methods');
const FAMILIES = readdirSync(METHOD_FIXTURES).filter((f) => existsSync(path.join(METHOD_FIXTURES, f, 'lora')));

function record(what: string, kind: string, error: number, tolerance: number): void {
  errorLog.push({ model: what, kind, error, tolerance });
  expect(error, `${what} ${kind}: error ${error} exceeds tolerance ${tolerance}`).toBeLessThanOrEqual(tolerance);
}

beforeAll(() => initNodeBackend());
afterAll(() => {
  // The largest error / tolerance over every check, per family and case, and the largest logits error: for the closing note.
  const cases = ['prefix', 'prefix-proj', 'ptuning-mlp', 'ptuning-lstm', 'lora', 'lora-all'];
  const cell = (what: string, pick: (kind: string) => boolean, f: (r: (typeof errorLog)[number]) => number) => Math.max(0, ...errorLog.filter((r) => r.model === what && pick(r.kind)).map(f));
  const rows = FAMILIES.map(
    (fam) =>
      `| ${fam} | ${cases
        .map(
          (c) =>
            `${cell(
              `${fam}/${c}`,
              (k) => k.endsWith('logits'),
              (r) => r.error,
            ).toExponential(1)} / ${cell(
              `${fam}/${c}`,
              () => true,
              (r) => r.error / r.tolerance,
            ).toFixed(3)}`,
        )
        .join(' | ')} |`,
  );
  console.log(['max logits error / largest error:tolerance of any check', `| family | ${cases.join(' | ')} |`, `|---|${cases.map(() => '---').join('|')}|`, ...rows].join('\n'));
});

it('every family has every method case', () => {
  expect(FAMILIES.length).toBe(12);
  for (const f of FAMILIES) expect(readdirSync(path.join(METHOD_FIXTURES, f)).sort()).toEqual(['lora', 'lora-all', 'prefix', 'prefix-proj', 'ptuning-lstm', 'ptuning-mlp']);
});

for (const family of FAMILIES) {
  describe(family, () => {
    let lm: LoadedModel;
    beforeAll(async () => {
      lm = await loadModel(new FolderSource(path.join(FAMILY_FIXTURES, family)));
    });
    afterAll(() => lm.dispose());

    for (const name of readdirSync(path.join(METHOD_FIXTURES, family)).sort()) {
      it(name, async () => {
        const dir = path.join(METHOD_FIXTURES, family, name);
        const json = JSON.parse(readFileSync(path.join(dir, 'case.json'), 'utf8'));
        const expected = parseSafetensors(new Uint8Array(readFileSync(path.join(dir, 'expected.safetensors'))), 'expected.safetensors');
        const what = `${family}/${name}`;
        const adapter = readMethodAdapterFolder(path.join(dir, 'adapter'));
        expect(adapter.config.method).toBe({ LORA: 'lora', PREFIX_TUNING: 'prefix', P_TUNING: 'p_tuning' }[json.peft_type as string]);
        const tuning = new Tuning(lm.model, adapter.config);
        // The same trainable tensors, names and shapes, as PEFT's named_parameters().
        expect(tuning.params.map((p) => `${p.name} ${p.shape}`).sort()).toEqual((json.trainable as { name: string; shape: number[] }[]).map((p) => `${p.name} ${p.shape}`).sort());
        const valuesOf = (prefix: string) => {
          const out = new Float32Array(tuning.size);
          let at = 0;
          for (const p of tuning.params) {
            const t = expected.get(prefix + p.name).data;
            out.set(t, at);
            at += t.length;
          }
          return out;
        };
        const init = valuesOf('init.');

        const check = (batch: Batch, pre: string) => {
          const values = tf.tensor1d(init);
          const { logits, loss } = promptForward(lm.model, tuning.inject(values), batch);
          const want = expected.get(pre + 'logits').data;
          record(what, `${pre}logits`, maxAbsDiff(logits.dataSync(), want), tensorTolerance(want));
          const wantLoss = expected.get(pre + 'loss').data[0];
          record(what, `${pre}loss`, Math.abs(loss!.dataSync()[0] - wantLoss), lossTolerance(wantLoss));
          const grad = tf.tidy(() => tf.grad((v: tf.Tensor) => promptLoss(lm.model, tuning.inject(v as tf.Tensor1D), batch))(values));
          const g = grad.dataSync() as Float32Array;
          for (const p of tuning.params) {
            const w = expected.get(`${pre}grad.${p.name}`).data;
            record(what, `${pre}grad ${p.name}`, maxAbsDiff(paramValues(g, tuning.params, p.name), w), tensorTolerance(w));
          }
          tf.dispose([values, logits, loss!, grad]);
        };
        check(batchFromJson(json.right, 'right'), '');
        check(batchFromJson(json.left, 'left'), 'left.');

        // What PEFT saves, from the initial values; and PEFT's own files loaded here give its logits.
        const ours = readMethodAdapter(methodAdapterFiles(tuning, init, { baseModel: family, revision: null }));
        // The same config; target_modules may list the same modules in another order (PEFT writes a set).
        const modules = (c: typeof adapter.config) => (c.method === 'lora' ? targetModules(lm.model, c).map((m) => m.path) : []);
        expect({ ...ours.config, targetModules: null }).toEqual({ ...adapter.config, targetModules: null });
        expect(modules(ours.config)).toEqual(modules(adapter.config));
        for (const [key, t] of Object.entries(adapter.saved)) record(what, `saved ${key}`, maxAbsDiff(ours.saved[key].data, t.data), tensorTolerance(t.data));
        expect(Object.keys(ours.saved).sort()).toEqual(Object.keys(adapter.saved).sort());
        const loaded = loadMethodAdapter(adapter, lm.model);
        const fromFiles = tf.tidy(() => promptForward(lm.model, loaded, batchFromJson(json.right, 'right')).logits);
        record(what, 'loaded logits', maxAbsDiff(fromFiles.dataSync(), expected.get('logits').data), tensorTolerance(expected.get('logits').data));
        fromFiles.dispose();

        // Greedy ids with the initial adapter (PEFT's generate, cache included).
        const g = json.greedy;
        const ids = await generate(lm.model, loaded, g.prompt_ids, { maxNewTokens: g.max_new_tokens, greedy: true, stopTokenIds: [g.eos_token_id] });
        expect(ids).toEqual(g.new_ids);
        disposeInjection(loaded);

        // 3 AdamW steps with the linear schedule, every trainable tensor after them, and the saved trained adapter.
        const t = json.train;
        const batches = t.batches.map((b: unknown, i: number) => batchFromJson(b, `batch ${i}`));
        const trainer = new Trainer(
          lm.model,
          tuning,
          init,
          { epochs: 1, stepsPerEpoch: batches.length, batchesForEpoch: () => batches, valBatches: [] },
          { lr: t.lr, weightDecay: t.weight_decay, betas: t.betas, eps: t.eps, warmupSteps: t.num_warmup_steps, dropout: false },
        );
        const steps: StepEvent[] = [];
        expect((await trainer.run((e) => e.type === 'step' && steps.push(e))).stopReason).toBe('completed');
        steps.forEach((s, k) => {
          expect(s.lr).toBeCloseTo(t.lrs[k], 12);
          record(what, `train loss ${k + 1}`, Math.abs(s.loss - t.losses[k]), lossTolerance(t.losses[k]));
        });
        const final = await trainer.promptValues();
        for (const p of tuning.params) {
          const w = expected.get(`final.${p.name}`).data;
          record(what, `final ${p.name}`, maxAbsDiff(paramValues(final, tuning.params, p.name), w), tensorTolerance(w));
        }
        const trained = readMethodAdapterFolder(path.join(dir, 'adapter-trained'));
        const savedTrained = tuning.save(final);
        for (const [key, w] of Object.entries(trained.saved)) record(what, `saved-trained ${key}`, maxAbsDiff(savedTrained[key].data, w.data), tensorTolerance(w.data));
        trainer.dispose();
      });
    }
  });
}

it('reads PEFT 0.21 adapter configs of every method', () => {
  for (const family of FAMILIES) {
    const c = JSON.parse(readFileSync(path.join(METHOD_FIXTURES, family, 'lora-all', 'adapter', 'adapter_config.json'), 'utf8'));
    expect(methodConfigFromJson(c).config).toMatchObject({ method: 'lora', r: 2, alpha: 6 });
  }
});
