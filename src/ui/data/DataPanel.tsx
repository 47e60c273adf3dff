import { useState } from 'react';
import { app } from '../app/state.ts';
import { useStore } from '../app/store.ts';
import { refreshStats } from './actions.ts';
import { Callout, NumberField, Section } from '../common/ui.tsx';
import { ColumnMapping } from './ColumnMapping.tsx';
import { DataSource } from './DataSource.tsx';
import { LengthStats } from './LengthStats.tsx';
import { TokenPreview } from './TokenPreview.tsx';

export function DataPanel() {
  const dataset = useStore(app, (s) => s.dataset);
  const mapping = useStore(app, (s) => s.mapping);
  const examples = useStore(app, (s) => s.examples);
  const error = useStore(app, (s) => s.dataError);
  const stats = useStore(app, (s) => s.stats);
  const statsError = useStore(app, (s) => s.statsError);
  const train = useStore(app, (s) => s.train);
  // The positions the chosen method takes from the context (LoRA: none).
  const V = useStore(app, (s) => (s.method === 'prompt' ? s.prompt.numVirtualTokens : s.method === 'lora' ? 0 : s.methods[s.method].numVirtualTokens));
  const method = useStore(app, (s) => s.method);
  const model = useStore(app, (s) => s.model);
  const [index, setIndex] = useState(0);
  const example = examples?.[Math.min(index, (examples?.length ?? 1) - 1)];
  return (
    <Section id="data" step={2} title="Data">
      <DataSource />
      {dataset && (
        <p className="small muted" data-testid="dataset-summary">
          <b>{dataset.name}</b>: {dataset.rows.length} rows{dataset.testRows ? ` + ${dataset.testRows.length} held-out test rows` : ''} · columns {dataset.columns.join(', ')}
          {dataset.description ? <span className="block">{dataset.description}</span> : null}
        </p>
      )}
      {error && (
        <Callout kind="error" testId="data-error">
          {error}
        </Callout>
      )}
      {dataset && mapping && <ColumnMapping mapping={mapping} columns={dataset.columns} />}
      {example && model && (
        <div className="field">
          <div className="row between">
            <label>
              Example {Math.min(index, examples!.length - 1) + 1} of {examples!.length}, tokenized
            </label>
            <span className="row gap">
              <button type="button" className="link" onClick={() => setIndex((i) => Math.max(0, i - 1))} aria-label="previous example">
                ‹ prev
              </button>
              <button type="button" className="link" onClick={() => setIndex((i) => Math.min(examples!.length - 1, i + 1))} aria-label="next example">
                next ›
              </button>
            </span>
          </div>
          <TokenPreview example={example} maxLength={train.maxLength} numVirtualTokens={V} method={method} modelKey={model.origin.id + (model.origin.commit ?? '')} />
        </div>
      )}
      <div className="row gap wrap">
        <NumberField
          label="Validation split"
          value={train.valSplit}
          min={0}
          max={0.9}
          step={0.05}
          hint="Share of rows held out to watch for overfitting"
          onChange={(v) => {
            app.set((s) => ({ train: { ...s.train, valSplit: v ?? 0 } }));
            void refreshStats();
          }}
        />
      </div>
      {stats && <LengthStats stats={stats} />}
      {statsError && <Callout kind="error">{statsError}</Callout>}
    </Section>
  );
}
