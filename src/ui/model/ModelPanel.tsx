import { useState } from 'react';
import { loadModel } from './actions.ts';
import { app } from '../app/state.ts';
import { useStore } from '../app/store.ts';
import { Callout, Section } from '../common/ui.tsx';
import { CacheInfo } from './CacheInfo.tsx';
import { HubForm } from './HubForm.tsx';
import { LoadProgress } from './LoadProgress.tsx';
import { LocalFolder } from './LocalFolder.tsx';
import { ModelFacts } from './ModelFacts.tsx';
import { EMBEDDED_MODELS, embeddedSpec } from './models.ts';

type Source = 'builtin' | 'hub' | 'local';

export function ModelPanel() {
  const status = useStore(app, (s) => s.modelStatus);
  const model = useStore(app, (s) => s.model);
  const error = useStore(app, (s) => s.modelError);
  const embedded = useStore(app, (s) => s.embedded);
  const engineReady = useStore(app, (s) => s.engineStatus === 'ready');
  const [source, setSource] = useState<Source>('builtin');
  const busy = status === 'loading' || !engineReady;
  const missingDemo = !embedded.some((m) => m.name === 'playground-demo');
  return (
    <Section id="model" step={1} title="Model" aside={model && status !== 'loading' ? <span className="ok-dot" title="loaded" /> : null}>
      {status === 'loading' && <LoadProgress />}
      {model && status !== 'loading' && <ModelFacts model={model} />}
      {error && (
        <Callout kind="error" testId="model-error">
          {error}
        </Callout>
      )}
      <div className="tabs small-tabs" role="tablist" aria-label="Model source">
        {(['builtin', 'hub', 'local'] as const).map((s) => (
          <button key={s} role="tab" aria-selected={source === s} className={source === s ? 'active' : ''} onClick={() => setSource(s)} data-testid={`model-source-${s}`}>
            {s === 'builtin' ? 'Built-in' : s === 'hub' ? 'Hugging Face Hub' : 'Local folder'}
          </button>
        ))}
      </div>
      {source === 'builtin' && (
        <div className="choice-list">
          {EMBEDDED_MODELS.map((m) => {
            const present = embedded.some((e) => e.name === m.name);
            const current = model?.ref.kind === 'embedded' && model.ref.name === m.name;
            return (
              <button key={m.name} className={`choice ${current ? 'current' : ''}`} disabled={!present || busy || current} onClick={() => void loadModel(embeddedSpec(m.name))}>
                <b>{m.title}</b>
                <span className="muted small">{present ? m.note : 'not on this server'}</span>
              </button>
            );
          })}
          {missingDemo && <p className="hint">The pretrained demo model is not on this server yet, so the random-weight test model is used: the loss falls, but do not expect sensible text.</p>}
        </div>
      )}
      {source === 'hub' && <HubForm disabled={busy} />}
      {source === 'local' && <LocalFolder disabled={busy} />}
      <CacheInfo />
    </Section>
  );
}
