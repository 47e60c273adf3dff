// Every tuning method through the tab's path (the worker's EngineService, IndexedDB): a few steps
// of training, what the comparison records of the run, the adapter applied (evaluate, try it,
// inspect), exported as PEFT's folder and imported back with the same outputs.
import 'fake-indexeddb/auto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDataset } from '../src/engine/data/parse.ts';
import type { MethodConfig } from '../src/engine/methods/index.ts';
import { DEFAULT_METHODS, DEFAULT_TRAIN_SPEC } from '../src/engine/run/spec.ts';
import { closeDb, getAdapter, getRun } from '../src/store/db.ts';
import type { EngineEvent, RunEnd, RunSpec } from '../src/worker/protocol.ts';
import { EngineService } from '../src/worker/service.ts';
import { nodeService, type NodeService } from './support/service.ts';
import { LOCAL_FIXTURES } from './support/fixtures.ts';

const LLAMA = path.join(LOCAL_FIXTURES, 'tiny-llama');
const rowsText =
  Array.from({ length: 24 }, (_, i) => JSON.stringify({ text: `my parcel is ${i % 2 ? 'late again' : 'here, thanks'} #${i}`, label: i % 2 ? 'complaint' : 'no complaint' })).join('\n') + '\n';

let service: EngineService;
let events: EngineEvent[];
let train: NodeService['train'];

beforeAll(async () => {
  ({ service, events, train } = await nodeService(LLAMA, 'tiny-llama'));
});
afterAll(() => closeDb());

function spec(method: MethodConfig | null, label: string): RunSpec {
  return {
    label,
    model: { kind: 'files', name: 'tiny-llama' },
    data: { name: 'tweets.jsonl', rows: parseDataset(rowsText, 'tweets.jsonl'), testRows: null, mapping: { kind: 'label', input: 'text', target: 'label', template: 'Tweet text : {text} Label : ' } },
    prompt: { kind: 'TEXT', text: 'is this a complaint', numVirtualTokens: 4, seed: 5 },
    train: { ...DEFAULT_TRAIN_SPEC, epochs: 1, batchSize: 4, maxLength: null, seed: 5, valSplit: 0.25, lr: 0.01, evalEvery: 2, maxSteps: 4 },
    method,
  };
}

const uploads = (files: Record<string, Uint8Array>, only?: string[]) => Object.entries(files).flatMap(([name, bytes]) => (!only || only.includes(name) ? [{ name, bytes }] : []));

const CASES: { name: string; method: MethodConfig | null; peftType: string; state: boolean }[] = [
  { name: 'prompt', method: null, peftType: 'PROMPT_TUNING', state: false },
  { name: 'prefix (projected)', method: { ...DEFAULT_METHODS.prefix, numVirtualTokens: 3, prefixProjection: true, encoderHiddenSize: 8 }, peftType: 'PREFIX_TUNING', state: true },
  { name: 'prefix', method: { ...DEFAULT_METHODS.prefix, numVirtualTokens: 3 }, peftType: 'PREFIX_TUNING', state: false },
  { name: 'p_tuning (LSTM)', method: { ...DEFAULT_METHODS.p_tuning, numVirtualTokens: 3, encoderType: 'LSTM', encoderHiddenSize: 8, encoderNumLayers: 1 }, peftType: 'P_TUNING', state: true },
  { name: 'lora', method: { ...DEFAULT_METHODS.lora, r: 2, alpha: 4 }, peftType: 'LORA', state: false },
];

describe('every method in the tab', () => {
  /** Each case's adapter, for the Serve tab's test below. */
  const trained: string[] = [];
  for (const c of CASES) {
    it(`${c.name}: trains, records its cost, applies, exports and imports back`, async () => {
      const end = await train(spec(c.method, c.name));
      expect(end.status).toBe('completed');
      expect(end.steps).toBe(4);
      const run = await getRun(end.runId);
      const adapter = await getAdapter(end.adapterId as string);
      trained.push(adapter!.id);
      expect(run?.spec.method ?? null).toEqual(c.method);
      expect(adapter?.method ?? null).toEqual(c.method);
      // The stored values are the method's flat values, as the form's numbers say.
      const facts = service.methodFacts(c.method ?? { method: 'prompt', numVirtualTokens: 4, init: 'TEXT', initText: 'is this a complaint' });
      expect(adapter?.prompt.length).toBe(facts.trainableParams);
      expect(run?.initPrompt.length).toBe(facts.trainableParams);
      expect(run?.cost).toMatchObject({ trainableParams: facts.trainableParams });
      expect(run!.cost!.peakBytes).toBeGreaterThan(0);
      expect(run!.cost!.stepSeconds).toBeGreaterThan(0);
      expect(Number.isFinite(run!.cost!.finalValLoss)).toBe(true);
      expect(run!.cost!.finalValLoss).toBe(run!.history.valLoss.at(-1));

      // Applied: evaluated on the run's own validation rows, tried, made active.
      const ev = await service.evaluate({
        set: { kind: 'run', runId: end.runId, part: 'validation', limit: null },
        conditions: [{ kind: 'none' }, { kind: 'adapter', adapterId: adapter!.id }],
        labelTask: true,
      });
      expect(ev.heldOut).toBe(true);
      expect(ev.results).toHaveLength(2);
      const mine = ev.results[1];
      expect(Number.isFinite(mine.loss)).toBe(true);
      expect(mine.labels?.accuracy).toBeGreaterThanOrEqual(0);
      // The validation loss of training's last evaluation is this loss (the same rows; best values restored at the end).
      expect(mine.loss).not.toBe(ev.results[0].loss);
      expect(await service.setActiveAdapter(adapter!.id)).toEqual([]);
      const tried = await service.generate({ input: 'Tweet text : late again Label : ', adapterId: adapter!.id, maxNewTokens: 3, greedy: true, temperature: 1, seed: 1 });
      expect(tried.withPrompt).not.toBeNull();
      if (!c.method || c.method.method === 'p_tuning') expect((await service.inspect(adapter!.id, 3)).tokens).toHaveLength(c.method ? 3 : 4);
      else await expect(service.inspect(adapter!.id, 3)).rejects.toThrow(/no virtual tokens/);

      // Exported as PEFT writes it, with the comparison's file size.
      const ex = await service.exportAdapter(adapter!.id);
      const config = JSON.parse(new TextDecoder().decode(ex.files['adapter_config.json']));
      expect(config.peft_type).toBe(c.peftType);
      expect(ex.files['adapter_model.safetensors'].byteLength).toBe(run!.cost!.adapterBytes);
      expect(ex.files['adapter_model.safetensors'].byteLength).toBe(facts.adapterBytes);
      expect('playground_state.safetensors' in ex.files).toBe(c.state);
      expect(new TextDecoder().decode(ex.files['train_peft.py'])).toContain(
        c.peftType === 'PROMPT_TUNING' ? 'PromptTuningConfig' : c.peftType === 'LORA' ? 'LoraConfig' : c.peftType === 'P_TUNING' ? 'PromptEncoderConfig' : 'PrefixTuningConfig',
      );

      // Imported back: the same method and values, the same outputs.
      const imported = await service.importAdapter(uploads(ex.files), `${c.name} again`);
      expect(imported.warnings).toEqual([]);
      const back = await getAdapter(imported.adapterId);
      // The method as adapter_config.json writes it (the target modules resolved; an encoder width equal to token_dim, PEFT's default, reads back as unset).
      if (c.method)
        expect(back?.method).toMatchObject({
          ...c.method,
          ...(c.method.method === 'lora'
            ? { targetModules: ['q_proj', 'v_proj'] }
            : { encoderHiddenSize: ((e) => (e === 16 ? null : e))(('encoderHiddenSize' in c.method ? c.method.encoderHiddenSize : null) ?? null) }),
        });
      else expect(back?.method).toBeUndefined();
      expect([...back!.prompt]).toEqual([...adapter!.prompt]);
      const again = await service.evaluate({
        set: { kind: 'run', runId: end.runId, part: 'validation', limit: null },
        conditions: [{ kind: 'adapter', adapterId: imported.adapterId }],
        labelTask: true,
      });
      expect(again.results[0].loss).toBeCloseTo(mine.loss, 6);
      expect(again.results[0].labels?.accuracy).toBe(mine.labels?.accuracy);

      if (c.state) {
        // Without the playground's state file: P-tuning is its soft prompt (today's path), a projected prefix its plain prefix, with a warning.
        const plain = await service.importAdapter(uploads(ex.files, ['adapter_config.json', 'adapter_model.safetensors']), `${c.name} (PEFT files only)`);
        const rec = await getAdapter(plain.adapterId);
        if (c.method?.method === 'p_tuning') {
          expect(rec?.method).toBeUndefined();
          expect(rec?.config.peftType).toBe('P_TUNING');
        } else {
          expect(rec?.method).toMatchObject({ method: 'prefix', prefixProjection: false });
          expect(plain.warnings.join(' ')).toMatch(/plain prefix/);
        }
        const same = await service.evaluate({
          set: { kind: 'run', runId: end.runId, part: 'validation', limit: null },
          conditions: [{ kind: 'adapter', adapterId: plain.adapterId }],
          labelTask: true,
        });
        expect(same.results[0].loss).toBeCloseTo(mine.loss, 4);
      }
    });
  }

  it('a LoRA run paused in one engine resumes in another (a reload) from its checkpoint, as LoRA', async () => {
    const s = { ...spec({ ...DEFAULT_METHODS.lora, r: 2 }, 'lora resumed'), train: { ...spec(null, '').train, epochs: 2, maxSteps: null, evalEvery: null } };
    const started = await service.startRun(s);
    // Pause once the step-5 checkpoint is written (the paused run writes one more, of where it stopped).
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (events.some((e) => e.type === 'checkpoint' && e.runId === started.runId)) resolve((clearInterval(check), service.pauseRun()));
      }, 5);
    });
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (events.some((e) => e.type === 'run-state' && e.runId === started.runId && e.status === 'paused')) resolve(clearInterval(check));
      }, 5);
    });
    await new Promise((r) => setTimeout(r, 100));
    const { service: reloaded, events: mine } = await nodeService(LLAMA, 'tiny-llama');
    const resumed = await reloaded.resumeRun(started.runId);
    expect(resumed.startStep).toBeGreaterThanOrEqual(5);
    const end = await new Promise<RunEnd>((resolve) => {
      const check = setInterval(() => {
        const e = mine.find((x): x is Extract<EngineEvent, { type: 'run-end' }> => x.type === 'run-end');
        if (e) resolve((clearInterval(check), e.end));
      }, 20);
    });
    expect(end.status).toBe('completed');
    expect(end.steps).toBe(10);
    const adapter = await getAdapter(end.adapterId as string);
    expect(adapter?.method).toMatchObject({ method: 'lora', r: 2 });
    expect(adapter?.prompt.length).toBe(reloaded.methodFacts({ ...DEFAULT_METHODS.lora, r: 2 }).trainableParams);
  });

  it("the Serve tab's batch: every method's rows in one batch, the same tokens as one by one in every run, each way's time its faster run", async () => {
    expect(trained).toHaveLength(CASES.length);
    const rows = [...trained.map((adapterId) => ({ input: 'Tweet text : late again Label : ', adapterId })), { input: 'my parcel is here', adapterId: null }];
    const res = await service.serve({ rows, maxNewTokens: 3 });
    expect(res.runs).toBe(2);
    expect(res.identical).toBe(true);
    expect(res.rows.map((r) => r.adapterId)).toEqual(rows.map((r) => r.adapterId));
    expect(res.rows.at(-1)!.output).toBe(res.rows.at(-1)!.base);
    expect(res.mixedMs).toBeGreaterThan(0);
    expect(res.oneByOneMs).toBeGreaterThan(0);
    await expect(service.serve({ rows: [{ input: ' ', adapterId: null }], maxNewTokens: 3 })).rejects.toThrow(/row 1 has no input/);
  });

  it("the data panel's plan leaves a method's context positions out of each example (LoRA takes none)", async () => {
    const s = spec(null, 'stats');
    const lora = await service.dataStats({ ...s, method: { ...DEFAULT_METHODS.lora } });
    const prompt = await service.dataStats(s);
    expect(lora.trainCount).toBe(prompt.trainCount);
    expect(service.methodFacts({ ...DEFAULT_METHODS.lora }).contextTokens).toBe(0);
    expect(service.methodFacts({ ...DEFAULT_METHODS.lora }).defaultTargetModules).toEqual(['q_proj', 'v_proj']);
    expect(() => service.methodFacts({ ...DEFAULT_METHODS.lora, targetModules: ['nope'] })).toThrow(/match no module/);
  });
});
