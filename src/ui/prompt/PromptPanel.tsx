import type { InitKind } from '../../engine/prompt/init.ts';
import { refreshStats } from '../data/actions.ts';
import { app } from '../app/state.ts';
import { useStore } from '../app/store.ts';
import { formatBytes, formatCount, formatTrainablePercent } from '../common/format.ts';
import { NumberField, Section } from '../common/ui.tsx';
import { adapterFileBytes } from './adapter-size.ts';
import { InitTextPreview } from './InitTextPreview.tsx';

const INITS: { kind: InitKind; title: string; line: string }[] = [
  { kind: 'TEXT', title: 'Text', line: 'Start from the embeddings of a phrase that describes the task. Usually the strongest start.' },
  { kind: 'SAMPLE_VOCAB', title: 'Sample vocabulary', line: 'Start from V random vocabulary tokens: the right scale, but no meaning.' },
  { kind: 'RANDOM', title: 'Random', line: 'Start from Gaussian noise N(0, 1): unrelated to any token, often far off the embedding scale.' },
];

export function PromptPanel() {
  const prompt = useStore(app, (s) => s.prompt);
  const model = useStore(app, (s) => s.model);
  const set = (c: Partial<typeof prompt>) => {
    app.set((s) => ({ prompt: { ...s.prompt, ...c } }));
    if (c.numVirtualTokens !== undefined) void refreshStats();
  };
  const V = prompt.numVirtualTokens;
  const H = model?.hiddenSize ?? 0;
  const trainable = V * H;
  const all = (model?.parameterCount ?? 0) + trainable;
  const context = model?.contextLength ?? 0;
  return (
    <Section id="prompt" step={3} title="Soft prompt">
      <fieldset className="init-choices">
        <legend>Initialisation</legend>
        {INITS.map((i) => (
          <label key={i.kind} className={`init-choice ${prompt.kind === i.kind ? 'selected' : ''}`}>
            <input type="radio" name="init" value={i.kind} checked={prompt.kind === i.kind} onChange={() => set({ kind: i.kind })} data-testid={`init-${i.kind}`} />
            <span>
              <b>{i.title}</b> <code className="muted">{i.kind}</code>
              <span className="block small muted">{i.line}</span>
            </span>
          </label>
        ))}
      </fieldset>
      {prompt.kind === 'TEXT' && (
        <div className="field">
          <label htmlFor="init-text">Init text</label>
          <input id="init-text" data-testid="init-text" value={prompt.text ?? ''} onChange={(e) => set({ text: e.target.value })} />
          {model && <InitTextPreview text={prompt.text ?? ''} numVirtualTokens={V} modelKey={model.origin.id} />}
        </div>
      )}
      <NumberField
        label="Virtual tokens (V)"
        value={V}
        integer
        min={1}
        max={Math.max(1, context - 2)}
        testId="num-virtual-tokens"
        onChange={(v) => v !== null && set({ numVirtualTokens: v })}
        hint={model ? `${V} of ${formatCount(context)} context tokens (${((100 * V) / context).toFixed(V / context < 0.01 ? 2 : 1)}%) go to the soft prompt` : undefined}
      />
      {model && (
        <div className="peft-line mono small" data-testid="trainable-params" title="What PEFT's print_trainable_parameters() prints for this configuration">
          trainable params: {formatCount(trainable)} || all params: {formatCount(all)} || trainable%: {formatTrainablePercent(trainable, all)}
          <span className="block muted">
            {V} × {H} values · adapter file {formatBytes(adapterFileBytes(V, H))}
          </span>
        </div>
      )}
    </Section>
  );
}
