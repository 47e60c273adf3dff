import { useState } from 'react';
import { DEFAULT_METHODS, type MethodName } from '../../worker/protocol.ts';
import { app } from '../app/state.ts';
import { useStore } from '../app/store.ts';
import { Field, NumberField } from '../common/ui.tsx';
import { useEngineQuery } from '../engine/useEngineQuery.ts';
import { setMethodSettings } from './methods.ts';
import { parseTargetModules } from './target-modules.ts';

const showTargets = (t: string[] | string | null): string => (t === null ? '' : typeof t === 'string' ? t : t.join(', '));

/** The settings of prefix tuning, P-tuning or LoRA (PEFT's config fields, its defaults). */
export function MethodSettingsForm({ name }: { name: Exclude<MethodName, 'prompt'> }) {
  const methods = useStore(app, (s) => s.methods);
  const model = useStore(app, (s) => s.model);
  const context = model?.contextLength ?? 0;
  const V = (v: number, set: (v: number) => void) => (
    <NumberField
      label="Virtual tokens (V)"
      value={v}
      integer
      min={1}
      max={Math.max(1, context - 2)}
      testId="num-virtual-tokens"
      onChange={(x) => x !== null && set(x)}
      hint={model ? `${v} of ${context} context positions go to the method` : undefined}
    />
  );
  if (name === 'prefix') {
    const c = methods.prefix;
    return (
      <div className="method-settings" data-testid="method-settings-prefix">
        {V(c.numVirtualTokens, (x) => setMethodSettings('prefix', { numVirtualTokens: x }, true))}
        <Field label="Reparameterise through a projection" hint="PEFT's prefix_projection: Linear-Tanh-Linear from V embeddings; PEFT saves only the prefix it makes">
          {(id) => <input id={id} type="checkbox" checked={c.prefixProjection} data-testid="prefix-projection" onChange={(e) => setMethodSettings('prefix', { prefixProjection: e.target.checked })} />}
        </Field>
        {c.prefixProjection && (
          <NumberField
            label="Encoder hidden size"
            value={c.encoderHiddenSize}
            integer
            min={1}
            allowEmpty
            placeholder="the keys' width"
            testId="prefix-encoder-hidden"
            onChange={(x) => setMethodSettings('prefix', { encoderHiddenSize: x })}
          />
        )}
      </div>
    );
  }
  if (name === 'p_tuning') {
    const c = methods.p_tuning;
    return (
      <div className="method-settings" data-testid="method-settings-p_tuning">
        {V(c.numVirtualTokens, (x) => setMethodSettings('p_tuning', { numVirtualTokens: x }, true))}
        <Field label="Prompt encoder">
          {(id) => (
            <select id={id} value={c.encoderType} data-testid="encoder-type" onChange={(e) => setMethodSettings('p_tuning', { encoderType: e.target.value as 'MLP' | 'LSTM' })}>
              <option value="MLP">MLP (two hidden layers)</option>
              <option value="LSTM">LSTM (bidirectional) + MLP</option>
            </select>
          )}
        </Field>
        <NumberField
          label="Encoder hidden size"
          value={c.encoderHiddenSize}
          integer
          min={1}
          allowEmpty
          placeholder={model ? `${model.hiddenSize} (the model's)` : "the model's"}
          testId="encoder-hidden"
          onChange={(x) => setMethodSettings('p_tuning', { encoderHiddenSize: x })}
        />
        {c.encoderType === 'LSTM' && (
          <NumberField
            label="LSTM layers"
            value={c.encoderNumLayers}
            integer
            min={1}
            max={8}
            testId="encoder-layers"
            onChange={(x) => x !== null && setMethodSettings('p_tuning', { encoderNumLayers: x })}
          />
        )}
      </div>
    );
  }
  return <LoraSettings />;
}

function LoraSettings() {
  const c = useStore(app, (s) => s.methods.lora);
  const model = useStore(app, (s) => s.model);
  const [draft, setDraft] = useState(showTargets(c.targetModules));
  // PEFT's default for the model type, as the worker resolves it on the loaded model.
  const { result: facts } = useEngineQuery(
    (engine) => engine.methodFacts({ ...DEFAULT_METHODS.lora, targetModules: null }),
    // modelKey: the answer depends on the model loaded in the worker, which the closure cannot see.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [model?.origin.id],
  );
  const fallback = facts?.defaultTargetModules ? facts.defaultTargetModules.join(', ') : null;
  return (
    <div className="method-settings" data-testid="method-settings-lora">
      <div className="grid-2">
        <NumberField label="Rank r" value={c.r} integer min={1} max={1024} testId="lora-r" onChange={(x) => x !== null && setMethodSettings('lora', { r: x })} />
        <NumberField
          label="Alpha"
          value={c.alpha}
          min={0}
          step="any"
          testId="lora-alpha"
          onChange={(x) => x !== null && setMethodSettings('lora', { alpha: x })}
          hint={`scale alpha / r = ${(c.alpha / c.r).toPrecision(3)}`}
        />
        <NumberField
          label="Dropout"
          value={c.dropout}
          min={0}
          max={0.99}
          step="any"
          testId="lora-dropout"
          onChange={(x) => x !== null && setMethodSettings('lora', { dropout: x })}
          hint="on the adapted layers' inputs"
        />
      </div>
      <Field
        label="Target modules"
        hint={
          <>
            {model ? `PEFT's default for ${model.modelType}: ` : "PEFT's default for the model type"}
            {model && <code data-testid="lora-default-targets">{fallback ?? 'none (name them)'}</code>}
            {'. Comma-separated names, all-linear, or a regular expression; empty: the default.'}
          </>
        }
      >
        {(id) => (
          <input
            id={id}
            data-testid="lora-targets"
            value={draft}
            placeholder={fallback ?? 'q_proj, v_proj'}
            onChange={(e) => {
              setDraft(e.target.value);
              setMethodSettings('lora', { targetModules: parseTargetModules(e.target.value) });
            }}
          />
        )}
      </Field>
    </div>
  );
}
