import { DEFAULT_LR, type TrainSpec } from '../../worker/protocol.ts';
import { refreshStats } from '../data/actions.ts';
import { app } from '../app/state.ts';
import { useStore } from '../app/store.ts';
import { Field, NumberField, Section } from '../common/ui.tsx';
import { methodTitle, setLr } from './methods.ts';

export function TrainSettings() {
  const t = useStore(app, (s) => s.train);
  const stats = useStore(app, (s) => s.stats);
  const auto = useStore(app, (s) => s.maxLengthAuto);
  const method = useStore(app, (s) => s.method);
  const userLr = useStore(app, (s) => s.methodLr[s.method] !== undefined);
  const set = (c: Partial<TrainSpec>, restat = false) => {
    app.set((s) => ({ train: { ...s.train, ...c }, ...(c.seed !== undefined ? { prompt: { ...s.prompt, seed: c.seed } } : {}) }));
    if (restat) void refreshStats();
  };
  const total = stats ? Math.min(stats.totalSteps, t.maxSteps ?? Infinity) : null;
  return (
    <Section id="settings" step={4} title="Training settings">
      <div className="grid-2">
        <NumberField
          label="Learning rate"
          value={t.lr}
          min={1e-6}
          max={10}
          step="any"
          testId="lr"
          onChange={(v) => v !== null && setLr(v)}
          hint={`${userLr ? 'yours; ' : ''}${DEFAULT_LR[method]} is the default for ${methodTitle(method)}`}
        />
        <NumberField label="Epochs" value={t.epochs} integer min={1} max={1000} testId="epochs" onChange={(v) => v !== null && set({ epochs: v }, true)} />
        <NumberField label="Batch size" value={t.batchSize} integer min={1} max={512} testId="batch-size" onChange={(v) => v !== null && set({ batchSize: v }, true)} />
        <NumberField
          label="Max length"
          value={t.maxLength}
          integer
          min={2}
          allowEmpty
          placeholder="context"
          testId="max-length"
          onChange={(v) => {
            app.set({ maxLengthAuto: false });
            set({ maxLength: v }, true);
          }}
          hint={auto ? 'tokens per example (V excluded); set to fit the longest' : 'tokens per example, V excluded'}
        />
        <NumberField label="Warmup steps" value={t.warmupSteps} integer min={0} onChange={(v) => v !== null && set({ warmupSteps: v })} hint="then linear decay to 0" />
        <NumberField label="Seed" value={t.seed} integer min={0} onChange={(v) => v !== null && set({ seed: v }, true)} hint="init, split and shuffling" />
        <NumberField label="Early-stopping patience" value={t.patience} integer min={0} onChange={(v) => v !== null && set({ patience: v })} hint="evaluations without a better val loss (0: off)" />
        <NumberField
          label="Stop after steps"
          value={t.maxSteps}
          integer
          min={1}
          allowEmpty
          placeholder="all"
          testId="max-steps"
          onChange={(v) => set({ maxSteps: v })}
          hint={total !== null ? `${total} steps in this run` : undefined}
        />
      </div>
      <details className="advanced">
        <summary>More</summary>
        <div className="grid-2">
          <NumberField label="Weight decay" value={t.weightDecay} min={0} max={1} step="any" onChange={(v) => v !== null && set({ weightDecay: v })} hint="AdamW, decoupled (torch default 0.01)" />
          <NumberField label="Validate every N steps" value={t.evalEvery} integer min={1} allowEmpty placeholder="½ epoch" testId="eval-every" onChange={(v) => set({ evalEvery: v })} />
          <Field label="Model dropout while training" hint="the config's rates, as transformers trains (model.train()); never in evaluation or generation">
            {(id) => <input id={id} type="checkbox" checked={t.dropout ?? true} data-testid="dropout" onChange={(e) => set({ dropout: e.target.checked })} />}
          </Field>
        </div>
      </details>
    </Section>
  );
}
