import { useEffect, useState } from 'react';
import { app, type FileLoad } from '../app/state.ts';
import { useStore } from '../app/store.ts';
import { formatBytes, formatDuration } from '../common/format.ts';
import { ProgressBar } from '../common/ui.tsx';

/** Files under this size (configs, small tokenizers) are summed, not listed one by one. */
const LISTED_BYTES = 1_000_000;

function done(f: FileLoad): boolean {
  return f.total !== null && f.loaded >= f.total;
}

/** Bytes per second of one file: up to now while it loads, over its own span once done. */
function speedOf(f: FileLoad, now: number): number {
  const seconds = ((done(f) ? f.updatedAt : now) - f.startedAt) / 1000;
  return seconds > 0.2 ? f.loaded / seconds : 0;
}

/** Each weights file with its bytes, speed and ETA, and the total over all files of the model. */
export function LoadProgress() {
  const files = useStore(app, (s) => s.loadFiles);
  const label = useStore(app, (s) => s.modelLabel);
  const [, tick] = useState(0);
  useEffect(() => {
    const t = setInterval(() => tick((x) => x + 1), 500);
    return () => clearInterval(t);
  }, []);
  const now = performance.now();
  const entries = Object.entries(files);
  const loaded = entries.reduce((a, [, f]) => a + f.loaded, 0);
  const known = entries.every(([, f]) => f.total !== null);
  const total = entries.reduce((a, [, f]) => a + (f.total ?? f.loaded), 0);
  const listed = entries.filter(([, f]) => (f.total ?? f.loaded) >= LISTED_BYTES);
  const current = entries.find(([, f]) => !done(f))?.[0] ?? entries.at(-1)?.[0];
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
      <ul className="load-files small" data-testid="load-files">
        {listed.map(([name, f]) => {
          const speed = speedOf(f, now);
          const eta = !done(f) && speed > 0 && f.total !== null ? (f.total - f.loaded) / speed : NaN;
          return (
            <li key={name} data-file={name} data-cached={f.cached}>
              <div className="row between">
                <span className="mono">{name}</span>
                <span className="mono">
                  {formatBytes(f.loaded)}
                  {f.total !== null ? ` / ${formatBytes(f.total)}` : ''}
                </span>
              </div>
              <ProgressBar value={f.total ? f.loaded / f.total : 0} indeterminate={f.total === null} label={`${name} download`} />
              <div className="row between muted">
                <span>{f.cached ? 'from the browser cache' : speed > 0 ? `${formatBytes(speed)}/s` : 'starting…'}</span>
                <span>{done(f) ? `done in ${formatDuration((f.updatedAt - f.startedAt) / 1000)}` : Number.isFinite(eta) && eta > 0.5 ? `about ${formatDuration(eta)} left` : ''}</span>
              </div>
            </li>
          );
        })}
      </ul>
    </div>
  );
}
