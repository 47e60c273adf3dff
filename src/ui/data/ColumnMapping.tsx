import type { ColumnMapping as Mapping } from '../../engine/data/examples.ts';
import { setMapping } from './actions.ts';

export function ColumnMapping({ mapping, columns }: { mapping: Mapping; columns: string[] }) {
  const change = (c: Partial<Mapping>) => setMapping({ ...mapping, ...c });
  return (
    <div className="mapping">
      <div className="row gap wrap">
        <div className="field">
          <label htmlFor="map-kind">Task</label>
          <select id="map-kind" value={mapping.kind} onChange={(e) => change({ kind: e.target.value as Mapping['kind'] })}>
            <option value="label">label (classification: accuracy is measured)</option>
            <option value="generation">generation (free text target)</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="map-input">Input column</label>
          <select
            id="map-input"
            value={mapping.input}
            onChange={(e) => {
              const input = e.target.value;
              const template = mapping.template.includes(`{${mapping.input}}`) ? mapping.template.replace(`{${mapping.input}}`, `{${input}}`) : `${mapping.template}{${input}}`;
              change({ input, template });
            }}
          >
            {columns.map((c) => (
              <option key={c}>{c}</option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="map-target">Target column (loss)</label>
          <select id="map-target" value={mapping.target} onChange={(e) => change({ target: e.target.value })}>
            {columns.map((c) => (
              <option key={c}>{c}</option>
            ))}
          </select>
        </div>
      </div>
      <div className="field">
        <label htmlFor="map-template">Prompt template</label>
        <input id="map-template" data-testid="template" className="mono" value={mapping.template} onChange={(e) => change({ template: e.target.value })} spellCheck={false} />
        <div className="hint">
          <code>{'{column}'}</code> is replaced by the row's value. The target and an end token follow the templated input; only they carry the loss.
        </div>
      </div>
    </div>
  );
}
