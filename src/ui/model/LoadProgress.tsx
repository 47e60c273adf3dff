import { useEffect, useState } from 'react';
import { app } from '../app/state.ts';
import { useStore } from '../app/store.ts';
import { formatBytes, formatDuration } from '../common/format.ts';
import { ProgressBar } from '../common/ui.tsx';

/** Bytes, speed and ETA over all files of the model being loaded. */
export function LoadProgress() {
  const files = useStore(app, (s) => s.loadFiles);
  const startedAt = useStore(app, (s) => s.loadStartedAt);
  const label = useStore(app, (s) => s.modelLabel);
  const [, tick] = useState(0);
  useEffect(() => {
    const t = setInterval(() => tick((x) => x + 1), 500);
    return () => clearInterval(t);
  }, []);
  const entries = Object.entries(files);
  const loaded = entries.reduce((a, [, f]) => a + f.loaded, 0);
  const fetched = entries.filter(([, f]) => !f.cached).reduce((a, [, f]) => a + f.loaded, 0);
  const known = entries.every(([, f]) => f.total !== null);
  const total = entries.reduce((a, [, f]) => a + (f.total ?? f.loaded), 0);
  const seconds = (performance.now() - startedAt) / 1000;
  const speed = seconds > 0.2 ? fetched / seconds : 0;
  const eta = speed > 0 && known ? (total - loaded) / speed : NaN;
  const current = entries.find(([, f]) => f.total === null || f.loaded < f.total)?.[0] ?? entries.at(-1)?.[0];
  return (
    <div className="load-progress" data-testid="load-progress">
      <div className="row between">
        <span>
          Loading <b>{label}</b>
          {current ? <span className="muted"> · {current}</span> : null}
        </span>
        <span className="mono">
          {formatBytes(loaded)}
          {known && total ? ` / ${formatBytes(total)}` : ''}
        </span>
      </div>
      <ProgressBar value={known && total ? loaded / total : 0} indeterminate={!known || total === 0} label="model download" />
      <div className="row between muted small">
        <span>{speed > 0 ? `${formatBytes(speed)}/s` : entries.some(([, f]) => f.cached) ? 'from the browser cache' : 'starting…'}</span>
        <span>{Number.isFinite(eta) && eta > 0.5 ? `about ${formatDuration(eta)} left` : ''}</span>
      </div>
    </div>
  );
}
