// A task's pinned suite and its adapter versions: accuracy on the suite, per label, the change from
// the version before, a drop of more than DROP_POINTS flagged, and versions trained on another
// base revision than the loaded one marked. The rows are the engine's versionRows, the same the
// CLI's `eval --suite` prints, so the page and a deployment script agree on what regressed.
import { useCallback, useEffect, useRef, useState } from 'react';
import { DROP_POINTS, type TaskVersions as Versions } from '../../worker/protocol.ts';
import { api, whenEngine } from '../app/engine.ts';
import { app } from '../app/state.ts';
import { useStore } from '../app/store.ts';
import { toast } from '../app/toasts.ts';
import { formatPercent, timeAgo } from '../common/format.ts';
import { errorMessage } from '../engine/client.ts';
import { refreshRunsAndAdapters } from './actions.ts';
import { downloadBytes } from './download.ts';

const points = (d: number) => `${d >= 0 ? '+' : ''}${d.toFixed(1)} pt`;

export function TaskVersions({ task }: { task: string }) {
  const adapters = useStore(app, (s) => s.adapters);
  const runs = useStore(app, (s) => s.runs);
  const model = useStore(app, (s) => s.model);
  const [v, setV] = useState<Versions | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const upload = useRef<HTMLInputElement>(null);
  const load = useCallback(() => {
    // whenEngine, not api(): this runs on mount and on every adapters change, also while the
    // engine restarts (another backend, a lost device), when it must wait rather than throw.
    whenEngine()
      .then((e) => e.taskVersions(task))
      .then(setV, (e) => toast('error', `Could not read the versions of ${task}: ${errorMessage(e)}`));
  }, [task]);
  // Adapters come and go (a run ends, one is deleted or scored): read the versions again.
  useEffect(load, [load, adapters, model]);

  const act = async (what: string, f: () => Promise<unknown>) => {
    setBusy(what);
    try {
      await f();
      await refreshRunsAndAdapters();
    } catch (e) {
      toast('error', `${what} failed: ${errorMessage(e)}`);
    } finally {
      setBusy(null);
      load();
    }
  };
  const taskRuns = runs.filter((r) => r.spec.data.name === task && r.spec.data.mapping.kind === 'label');
  if (!v) return null;
  const labels = v.suite?.labels ?? [];
  return (
    <section className="task-versions" data-testid="task-versions" data-task={task}>
      <h4>
        Versions of <q>{task}</q>
      </h4>
      {v.suite ? (
        <p className="small" data-testid="suite-info">
          Suite: <b>{v.suite.rows} rows</b> ({v.suite.source}), pinned {timeAgo(v.suite.createdAt)} · <code title={v.suite.hash}>{v.suite.hash.slice(0, 8)}</code>
        </p>
      ) : (
        <p className="small muted">No suite pinned: every version is scored on the same rows once one is. A run of this task pins its held-out rows at its end, or upload a suite.</p>
      )}
      <div className="row gap wrap small">
        {v.suite && (
          <button
            className="link"
            onClick={() =>
              void act('Downloading the suite', async () => {
                const f = await api().suiteFile(task);
                downloadBytes(new TextEncoder().encode(f.text), f.fileName, 'application/json');
              })
            }
          >
            Download suite
          </button>
        )}
        <button className="link" onClick={() => upload.current?.click()} title="A suite file (.suite.json), or a JSONL/CSV of text+label rows read with the task's template">
          Upload suite…
        </button>
        <input
          ref={upload}
          type="file"
          accept=".json,.jsonl,.csv,.tsv"
          hidden
          data-testid="suite-upload"
          onChange={(e) => {
            const file = e.target.files?.[0];
            e.target.value = '';
            if (file) void act('Pinning the suite', async () => api().pinSuite({ task, from: { kind: 'file', name: file.name, text: await file.text() } }));
          }}
        />
        {taskRuns.length > 0 && (
          <button className="link" onClick={() => void act('Pinning the suite', () => api().pinSuite({ task, from: { kind: 'run', runId: taskRuns[0].id } }))}>
            Pin the held-out rows of “{taskRuns[0].spec.label}”
          </button>
        )}
      </div>
      {v.rows.length > 0 && (
        <table className="results small" data-testid="versions-table">
          <thead>
            <tr>
              <th>version</th>
              <th>adapter</th>
              <th>accuracy</th>
              <th>change</th>
              {labels.map((l) => (
                <th key={l}>“{l}”</th>
              ))}
              <th />
            </tr>
          </thead>
          <tbody>
            {[...v.rows].reverse().map((r) => (
              <tr key={r.id} data-testid="version-row" className={r.dropped ? 'dropped' : ''}>
                <td>v{r.version}</td>
                <td>
                  {r.name}
                  {r.drift && (
                    <span className="badge drift" title={`trained on base revision ${r.revision}; the loaded model is at ${v.loadedRevision}`}>
                      other base revision
                    </span>
                  )}
                </td>
                <td className="num" data-testid="version-accuracy">
                  {r.accuracy === null ? <span className="muted">{r.stale ? 'scored on an older suite' : 'not scored'}</span> : formatPercent(r.accuracy)}
                </td>
                <td className="num">
                  {r.delta !== null && points(r.delta)}
                  {r.dropped && (
                    <span className="badge drop" data-testid="version-drop" title={`accuracy fell more than ${DROP_POINTS} points from the version before`}>
                      drop
                    </span>
                  )}
                </td>
                {labels.map((l) => {
                  const s = r.perLabel?.[l];
                  return (
                    <td key={l} className="num" title={s ? `${s.correct} of ${s.total}` : undefined}>
                      {s ? formatPercent(s.accuracy) : ''}
                    </td>
                  );
                })}
                <td>
                  <button className="link" disabled={busy !== null || !model} onClick={() => void act('Scoring', () => api().evaluateVersion(r.id))}>
                    {r.accuracy === null ? 'score' : 'score again'}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {busy && <p className="small muted">{busy}…</p>}
    </section>
  );
}
