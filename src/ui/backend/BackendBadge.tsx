import { useState } from 'react';
import type { BackendName } from '../../worker/protocol.ts';
import { restartEngine } from '../app/engine.ts';
import { app, isTraining } from '../app/state.ts';
import { useStore } from '../app/store.ts';

const NAMES: Record<BackendName, string> = { webgpu: 'WebGPU', wasm: 'WASM', cpu: 'CPU (JS)' };

/** Which backend the engine worker runs on, what the GPU adapter is, and a way to switch. */
export function BackendBadge() {
  const backend = useStore(app, (s) => s.backend);
  const status = useStore(app, (s) => s.engineStatus);
  const training = useStore(app, isTraining);
  const [open, setOpen] = useState(false);
  if (!backend) return <span className="backend-badge muted">{status === 'failed' ? 'engine failed' : 'starting engine…'}</span>;
  const a = backend.adapter;
  const software = backend.name === 'webgpu' && a?.isFallback;
  const detail =
    backend.name === 'webgpu'
      ? [a?.vendor, a?.architecture, a?.device, a?.description].filter(Boolean).join(' · ') || 'GPU'
      : backend.name === 'wasm'
        ? `${backend.threads ?? 1} thread${backend.threads === 1 ? '' : 's'}${backend.crossOriginIsolated ? '' : ' (page not cross-origin isolated)'}`
        : 'plain JavaScript';
  return (
    <div className="backend">
      <button
        className={`backend-badge ${software ? 'warn' : ''}`}
        onClick={() => setOpen((o) => !o)}
        aria-expanded={open}
        data-testid="backend-badge"
        data-backend={backend.name}
        data-fallback={software ? 'true' : 'false'}
      >
        <span className={`dot ${status === 'ready' ? 'ok' : 'busy'}`} />
        {NAMES[backend.name]} <span className="muted">· {software ? 'software adapter' : detail}</span> ▾
      </button>
      {open && (
        <div className="backend-menu" role="dialog" aria-label="Backend">
          <p className="small">
            The engine runs in a Web Worker: the page stays responsive while it trains. <b>{NAMES[backend.name]}</b>: {detail}.
          </p>
          {backend.notes.map((n) => (
            <p key={n} className="small warn" data-testid="backend-note">
              {n}
            </p>
          ))}
          <div className="row gap">
            {(['webgpu', 'wasm'] as const).map((b) => (
              <button
                key={b}
                className={b === backend.name ? 'primary' : 'secondary'}
                disabled={b === backend.name || status !== 'ready'}
                data-testid={`backend-${b}`}
                onClick={() => {
                  if (training && !confirm('Switching the backend stops the current run (its soft prompt is kept). Switch?')) return;
                  setOpen(false);
                  void restartEngine(b);
                }}
              >
                {b === backend.name ? `Using ${NAMES[b]}` : `Switch to ${NAMES[b]}`}
              </button>
            ))}
          </div>
          <p className="hint">Switching restarts the worker and reloads the model (from the cache).</p>
        </div>
      )}
    </div>
  );
}
