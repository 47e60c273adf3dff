// The train panel's actions: start a run from the current settings, pause, resume, stop.
import type { MethodName, RunSpec, RunStarted } from '../../worker/protocol.ts';
import { emptyHistory } from '../../worker/protocol.ts';
import { methodConfigFor, methodTitle, virtualTokensOf } from '../prompt/methods.ts';
import { refreshRunsAndAdapters } from '../adapters/actions.ts';
import { api } from '../app/engine.ts';
import { app } from '../app/state.ts';
import { toast } from '../app/toasts.ts';
import { errorMessage } from '../engine/client.ts';

export function runLabel(spec: Omit<RunSpec, 'label' | 'model'>): string {
  const p = spec.prompt;
  const m = spec.method;
  const what = !m || m.method === 'prompt' ? `${p.kind} · V ${p.numVirtualTokens}` : m.method === 'lora' ? `LoRA · r ${m.r}` : `${methodTitle(m.method)} · V ${m.numVirtualTokens}`;
  return `${what} · lr ${spec.train.lr} · ${spec.data.name}`;
}

/** The spec of a run of `method` from the current settings (its learning rate: `lr`). */
export function specFor(method: MethodName, lr: number): RunSpec | null {
  const s = app.get();
  if (!s.model || !s.lastModelSpec || !s.dataset || !s.mapping || !s.examples) return null;
  const base = {
    data: { name: s.dataset.name, rows: s.dataset.rows, mapping: s.mapping, testRows: s.dataset.testRows },
    prompt: { ...s.prompt, text: s.prompt.kind === 'TEXT' ? s.prompt.text : null },
    train: { ...s.train, lr },
    method: methodConfigFor(s, method),
  };
  return { ...base, label: runLabel(base), model: s.model.ref };
}

export async function startTraining(): Promise<void> {
  const s = app.get();
  const spec = specFor(s.method, s.train.lr);
  if (!spec) return;
  await begin(() => api().startRun(spec), spec.label, virtualTokensOf(s, s.method), spec.train.epochs, s.method);
}

/** Starts (or resumes) a run and follows it as the live run; its id, or null when it did not start. `showTrain`: switch to the Train tab. */
export async function begin(start: () => Promise<RunStarted>, label: string, V: number, epochs: number, method: MethodName = 'prompt', showTrain = true): Promise<string | null> {
  const hiddenSize = app.get().model?.hiddenSize ?? 0;
  app.set({
    ...(showTrain ? { tab: 'train' as const } : {}),
    run: {
      id: '',
      label,
      status: 'starting',
      totalSteps: 0,
      stepsPerEpoch: 0,
      epochs,
      history: emptyHistory(),
      version: 0,
      epoch: 0,
      lastCheckpoint: null,
      numTensors: null,
      tensorCounts: [],
      message: '',
      adapterId: null,
      warnings: [],
      numVirtualTokens: V,
      hiddenSize,
      method,
    },
  });
  try {
    const started = await start();
    app.set((st) => ({
      run: st.run && {
        ...st.run,
        id: started.runId,
        totalSteps: started.totalSteps,
        stepsPerEpoch: started.stepsPerEpoch,
        history: started.history,
        warnings: started.warnings,
        lastCheckpoint: started.startStep ? { step: started.startStep, savedAt: Date.now() } : null,
        version: st.run.version + 1,
      },
    }));
    for (const w of started.warnings) toast('warning', w);
    void refreshRunsAndAdapters();
    return started.runId;
  } catch (e) {
    app.set((st) => ({ run: st.run && { ...st.run, status: 'failed', message: errorMessage(e) } }));
    toast('error', `Could not start training: ${errorMessage(e)}`);
    return null;
  }
}

export function pauseTraining(): void {
  void api().pauseRun();
}
export function continueTraining(): void {
  void api().continueRun();
}
export function stopTraining(): void {
  void api().stopRun();
}
