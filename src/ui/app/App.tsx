import { useState } from 'react';
import { AdaptersPanel } from '../adapters/AdaptersPanel.tsx';
import { BackendBadge } from '../backend/BackendBadge.tsx';
import { ComparePanel } from '../compare/ComparePanel.tsx';
import { DataPanel } from '../data/DataPanel.tsx';
import { EvaluatePanel } from '../evaluate/EvaluatePanel.tsx';
import { InspectPanel } from '../inspect/InspectPanel.tsx';
import { ModelPanel } from '../model/ModelPanel.tsx';
import { PromptPanel } from '../prompt/PromptPanel.tsx';
import { TrainSettings } from '../prompt/TrainSettings.tsx';
import { RecoveryBanner } from '../recovery/RecoveryBanner.tsx';
import { ServePanel } from '../serve/ServePanel.tsx';
import { TeachPanel } from '../teach/TeachPanel.tsx';
import { TrainPanel } from '../train/TrainPanel.tsx';
import { restartEngine } from './engine.ts';
import { app, isTraining, type Tab } from './state.ts';
import { useStore } from './store.ts';
import { Toasts } from './Toasts.tsx';

const TABS: { id: Tab; label: string }[] = [
  { id: 'train', label: 'Train' },
  { id: 'compare', label: 'Compare methods' },
  { id: 'evaluate', label: 'Evaluate & try' },
  { id: 'inspect', label: 'Inspect' },
  { id: 'adapters', label: 'Adapters' },
  { id: 'serve', label: 'Serve' },
];

function SoftwareGpuNotice() {
  const backend = useStore(app, (s) => s.backend);
  const [hidden, setHidden] = useState(false);
  if (hidden || backend?.name !== 'webgpu' || !backend.adapter?.isFallback) return null;
  return (
    <div className="banner banner-info" data-testid="software-gpu">
      <div>
        WebGPU here is <b>{backend.adapter.architecture || backend.adapter.vendor || 'a software fallback'}</b>, a software adapter that runs on the CPU, not a GPU. Training works but is slow; the
        WASM backend is often faster on such machines.
      </div>
      <div className="row gap">
        <button className="secondary" onClick={() => void restartEngine('wasm')}>
          Switch to WASM
        </button>
        <button className="link" onClick={() => setHidden(true)}>
          Keep WebGPU
        </button>
      </div>
    </div>
  );
}

export function App() {
  const tab = useStore(app, (s) => s.tab);
  const adapters = useStore(app, (s) => s.adapters.length);
  const training = useStore(app, (s) => isTraining(s) || s.comparison.status === 'running');
  return (
    <div className="app">
      <header className="topbar">
        <div className="brand">
          <span className="logo" aria-hidden>
            <i />
            <i />
          </span>
          <div>
            <h1>Prompt-tuning playground</h1>
            <p>Train a PEFT adapter (prompt tuning, prefix tuning, P-tuning or LoRA) on a frozen language model, right in this tab.</p>
          </div>
        </div>
        <BackendBadge />
      </header>
      <RecoveryBanner />
      <SoftwareGpuNotice />
      <main className="layout">
        <aside className={`setup ${training ? 'locked' : ''}`} aria-label="Setup" inert={training}>
          {training && <div className="lock-note small">Settings are locked while a run (or a comparison) trains. Stop it to change them.</div>}
          <ModelPanel />
          <DataPanel />
          <PromptPanel />
          <TrainSettings />
        </aside>
        <div className="work">
          <TeachPanel />
          <section className="card workspace">
            <nav className="tabs" role="tablist" aria-label="Workspace">
              {TABS.map((t) => (
                <button key={t.id} role="tab" aria-selected={tab === t.id} className={tab === t.id ? 'active' : ''} onClick={() => app.set({ tab: t.id })} data-testid={`tab-${t.id}`}>
                  {t.label}
                  {t.id === 'adapters' && adapters > 0 ? <span className="count">{adapters}</span> : null}
                </button>
              ))}
            </nav>
            <div hidden={tab !== 'train'} role="tabpanel">
              <TrainPanel />
            </div>
            <div hidden={tab !== 'compare'} role="tabpanel">
              <ComparePanel />
            </div>
            <div hidden={tab !== 'evaluate'} role="tabpanel">
              <EvaluatePanel />
            </div>
            <div hidden={tab !== 'inspect'} role="tabpanel">
              {tab === 'inspect' && <InspectPanel />}
            </div>
            <div hidden={tab !== 'adapters'} role="tabpanel">
              <AdaptersPanel />
            </div>
            <div hidden={tab !== 'serve'} role="tabpanel">
              <ServePanel />
            </div>
          </section>
          <footer className="footer small muted">Everything runs in this browser: models, data and adapters never leave it. Adapters load with Hugging Face PEFT unchanged.</footer>
        </div>
      </main>
      <Toasts />
    </div>
  );
}
