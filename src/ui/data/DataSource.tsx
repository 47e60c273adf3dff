import { useRef, useState } from 'react';
import { loadDatasetText, selectBuiltin } from './actions.ts';
import { app } from '../app/state.ts';
import { useStore } from '../app/store.ts';

export function DataSource() {
  const builtins = useStore(app, (s) => s.builtins);
  const dataset = useStore(app, (s) => s.dataset);
  const file = useRef<HTMLInputElement>(null);
  const [pasting, setPasting] = useState(false);
  const [text, setText] = useState('');
  const current = dataset?.source.kind === 'builtin' ? dataset.source.id : null;
  return (
    <div className="data-source">
      <div className="field">
        <label htmlFor="builtin-dataset">Example dataset</label>
        <select
          id="builtin-dataset"
          data-testid="builtin-dataset"
          value={current ?? ''}
          onChange={(e) => {
            const b = builtins.find((x) => x.id === e.target.value);
            if (b) void selectBuiltin(b);
          }}
        >
          {current === null && <option value="">{dataset ? `your data: ${dataset.name}` : 'choose…'}</option>}
          {builtins.map((b) => (
            <option key={b.id} value={b.id}>
              {b.title}
            </option>
          ))}
        </select>
      </div>
      <div className="row gap small">
        <button type="button" className="secondary" onClick={() => file.current?.click()}>
          Upload CSV / JSONL…
        </button>
        <button type="button" className="secondary" onClick={() => setPasting((p) => !p)} aria-expanded={pasting}>
          Paste data
        </button>
      </div>
      <input
        ref={file}
        type="file"
        hidden
        data-testid="dataset-file"
        accept=".csv,.tsv,.jsonl,.json,text/csv,application/json"
        onChange={async (e) => {
          const f = e.target.files?.[0];
          if (!f) return;
          loadDatasetText(await f.text(), f.name, { kind: 'file', fileName: f.name });
          e.target.value = '';
        }}
      />
      {pasting && (
        <div className="field">
          <label htmlFor="paste">CSV with a header row, or one JSON object per line</label>
          <textarea
            id="paste"
            rows={6}
            className="mono"
            value={text}
            onChange={(e) => setText(e.target.value)}
            placeholder={'text,label\n"my order never came",complaint\n"thanks for the quick reply",no complaint'}
          />
          <button
            type="button"
            className="secondary"
            disabled={!text.trim()}
            onClick={() => {
              const name = text.trimStart().startsWith('{') ? 'pasted.jsonl' : 'pasted.csv';
              loadDatasetText(text, name, { kind: 'paste' });
              setPasting(false);
            }}
          >
            Use this data
          </button>
        </div>
      )}
    </div>
  );
}
