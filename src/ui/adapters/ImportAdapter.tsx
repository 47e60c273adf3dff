import { useRef, useState } from 'react';
import { importAdapter } from './actions.ts';
import { app } from '../app/state.ts';
import { useStore } from '../app/store.ts';
import { errorMessage } from '../engine/client.ts';
import { Callout } from '../common/ui.tsx';

/** A PEFT adapter (prompt tuning, prefix tuning, P-tuning or LoRA) from files, a folder or a zip. */
export function ImportAdapter() {
  const model = useStore(app, (s) => s.model);
  const files = useRef<HTMLInputElement>(null);
  const folder = useRef<HTMLInputElement>(null);
  const [error, setError] = useState<string | null>(null);
  const [warnings, setWarnings] = useState<string[]>([]);
  const [over, setOver] = useState(false);
  const run = async (list: File[]) => {
    if (!list.length) return;
    setError(null);
    setWarnings([]);
    try {
      await importAdapter(list);
      const active = app.get().activeWarnings;
      setWarnings(active);
    } catch (e) {
      setError(errorMessage(e));
    }
  };
  return (
    <div
      className={`import ${over ? 'over' : ''}`}
      onDragOver={(e) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={(e) => {
        e.preventDefault();
        setOver(false);
        void run([...e.dataTransfer.files]);
      }}
    >
      <div className="row gap wrap">
        <button className="secondary" disabled={!model} onClick={() => files.current?.click()} data-testid="import-files">
          Import files or zip…
        </button>
        <button className="secondary" disabled={!model} onClick={() => folder.current?.click()}>
          Import a folder…
        </button>
        <span className="muted small">adapter_config.json + adapter_model.safetensors of any of the four methods, as PEFT's save_pretrained writes them (or drop them here)</span>
      </div>
      <input
        ref={files}
        type="file"
        multiple
        hidden
        data-testid="import-input"
        accept=".json,.safetensors,.zip,.bin,.md"
        onChange={(e) => {
          void run([...(e.target.files ?? [])]);
          e.target.value = '';
        }}
      />
      <input
        ref={folder}
        type="file"
        multiple
        hidden
        webkitdirectory=""
        onChange={(e) => {
          void run([...(e.target.files ?? [])]);
          e.target.value = '';
        }}
      />
      {error && (
        <Callout kind="error" testId="import-error">
          <b>Could not import:</b> {error}
        </Callout>
      )}
      {warnings.length > 0 && (
        <Callout kind="warning" testId="import-warnings">
          Imported, with {warnings.length === 1 ? 'a warning' : 'warnings'}:
          <ul>
            {warnings.map((w) => (
              <li key={w}>{w}</li>
            ))}
          </ul>
        </Callout>
      )}
    </div>
  );
}
