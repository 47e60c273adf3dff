// The train panel's actions: start a run from the current settings, pause, resume, stop.
import type { RunSpec, RunStarted } from '../../worker/protocol.ts';
import { emptyHistory } from '../../worker/protocol.ts';
import { refreshRunsAndAdapters } from '../adapters/actions.ts';
import { api } from '../app/engine.ts';
import { app } from '../app/state.ts';
import { toast } from '../app/toasts.ts';
import { errorMessage } from '../engine/client.ts';

export function runLabel(spec: Omit<RunSpec, 'label' | 'model'>): string {
  const p = spec.prompt;
  return `${p.kind} · V ${p.numVirtualTokens} · lr ${spec.train.lr} · ${spec.data.name}`;
}

export async function startTraining(): Promise<void> {
  const s = app.get();
  if (!s.model || !s.lastModelSpec || !s.dataset || !s.mapping || !s.examples) return;
  const base = {
    data: { name: s.dataset.name, rows: s.dataset.rows, mapping: s.mapping, testRows: s.dataset.testRows },
    prompt: { ...s.prompt, text: s.prompt.kind === 'TEXT' ? s.prompt.text : null },
    train: s.train,
  };
  const spec: RunSpec = { ...base, label: runLabel(base), model: s.model.ref };
  await begin(() => api().startRun(spec), spec.label, spec.prompt.numVirtualTokens, spec.train.epochs);
}

export async function begin(start: () => Promise<RunStarted>, label: string, V: number, epochs: number): Promise<void> {
  const hiddenSize = app.get().model?.hiddenSize ?? 0;
  app.set({
    tab: 'train',
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
  } catch (e) {
    app.set((st) => ({ run: st.run && { ...st.run, status: 'failed', message: errorMessage(e) } }));
    toast('error', `Could not start training: ${errorMessage(e)}`);
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
