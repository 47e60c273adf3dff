import type { InitKind } from '../../engine/prompt/init.ts';
import { refreshStats } from '../data/actions.ts';
import { app } from '../app/state.ts';
import { useStore } from '../app/store.ts';
import { formatBytes, formatCount, formatTrainablePercent } from '../common/format.ts';
import { Callout, NumberField, Section } from '../common/ui.tsx';
import { useEngineQuery } from '../engine/useEngineQuery.ts';
import { adapterFileBytes } from './adapter-size.ts';
import { InitTextPreview } from './InitTextPreview.tsx';
import { MethodSettingsForm } from './MethodSettings.tsx';
import { chooseMethod, factsConfigFor, METHOD_LIST } from './methods.ts';

const INITS: { kind: InitKind; title: string; line: string }[] = [
  { kind: 'TEXT', title: 'Text', line: 'Start from the embeddings of a phrase that describes the task. Usually the strongest start.' },
  { kind: 'SAMPLE_VOCAB', title: 'Sample vocabulary', line: 'Start from V random vocabulary tokens: the right scale, but no meaning.' },
  { kind: 'RANDOM', title: 'Random', line: 'Start from Gaussian noise N(0, 1): unrelated to any token, often far off the embedding scale.' },
];

/** The method picker, each method's settings, and PEFT's trainable-parameter line for the choice. */
export function PromptPanel() {
  const method = useStore(app, (s) => s.method);
  const model = useStore(app, (s) => s.model);
  return (
    <Section id="prompt" step={3} title="Tuning method">
      <fieldset className="method-choices" data-testid="method-picker">
        <legend>Method</legend>
        {METHOD_LIST.map((m) => (
          <label key={m.name} className={`init-choice ${method === m.name ? 'selected' : ''}`}>
            <input type="radio" name="method" value={m.name} checked={method === m.name} onChange={() => chooseMethod(m.name)} data-testid={`method-${m.name}`} />
            <span>
              <b>{m.title}</b>
              <span className="block small muted">{m.line}</span>
            </span>
          </label>
        ))}
      </fieldset>
      {method === 'prompt' ? <PromptSettings /> : <MethodSettingsForm name={method} />}
      {model && method !== 'prompt' && <MethodFactsLine />}
    </Section>
  );
}

/** PEFT's print_trainable_parameters line for a non-prompt method, from the worker (it knows the model's modules). */
function MethodFactsLine() {
  const model = useStore(app, (s) => s.model);
  const method = useStore(app, (s) => s.method);
  const config = useStore(app, (s) => JSON.stringify(factsConfigFor(s, method)));
  const { result: facts, error } = useEngineQuery(
    (engine) => engine.methodFacts(JSON.parse(config)),
    // The answer depends on the model loaded in the worker too, which the closure cannot see.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [config, model?.origin.id],
    120,
  );
  if (error) return <Callout kind="error">{error}</Callout>;
  if (!facts || !model) return null;
  const all = model.parameterCount + facts.trainableParams;
  return (
    <div className="peft-line mono small" data-testid="trainable-params" title="What PEFT's print_trainable_parameters() prints for this configuration">
      trainable params: {formatCount(facts.trainableParams)} || all params: {formatCount(all)} || trainable%: {formatTrainablePercent(facts.trainableParams, all)}
      <span className="block muted">
        adapter file {formatBytes(facts.adapterBytes)}
        {facts.contextTokens > 0 ? ` · ${facts.contextTokens} context positions` : ' · no context positions'}
        {method === 'lora' ? ` · ${facts.adaptedModules} projections (${facts.targetModules.join(', ')})` : ''}
      </span>
    </div>
  );
}

function PromptSettings() {
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
    <>
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
    </>
  );
}
