import { useState } from 'react';
import type { AdapterSummary } from '../../worker/protocol.ts';
import { deleteAdapter, downloadAdapterZip, renameAdapter, setActiveAdapter, setAdapterTask } from './actions.ts';
import { toast } from '../app/toasts.ts';
import { whenEngine } from '../app/engine.ts';
import { errorMessage } from '../engine/client.ts';
import { formatCount, formatDuration, formatLoss, formatPercent, timeAgo } from '../common/format.ts';
import type { MethodConfig } from '../../worker/protocol.ts';
import { methodTitle } from '../prompt/methods.ts';

/** A non-prompt adapter's method in a few words. */
function methodLine(m: MethodConfig): string {
  if (m.method === 'lora')
    return `LoRA · r ${m.r}, alpha ${m.alpha} · ${m.targetModules === null ? 'default modules' : typeof m.targetModules === 'string' ? m.targetModules : m.targetModules.join(', ')}`;
  if (m.method === 'prefix') return `Prefix tuning · V ${m.numVirtualTokens}${m.prefixProjection ? ' · projection' : ''}`;
  if (m.method === 'p_tuning') return `P-tuning · V ${m.numVirtualTokens} · ${m.encoderType} encoder`;
  return methodTitle(m.method);
}
import { downloadBytes, mimeOf } from './download.ts';
import { Sparkline } from './Sparkline.tsx';

export function AdapterCard({ adapter, active, curve, canUse, tasks }: { adapter: AdapterSummary; active: boolean; curve: number[]; canUse: boolean; tasks: string[] }) {
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(adapter.name);
  const [files, setFiles] = useState<Record<string, Uint8Array> | null>(null);
  const [folderName, setFolderName] = useState('');
  const c = adapter.config;
  const m = adapter.metrics;
  const exportIt = async () => {
    try {
      return await (await whenEngine()).exportAdapter(adapter.id);
    } catch (e) {
      toast('error', `Export failed: ${errorMessage(e)}`);
      return null;
    }
  };
  return (
    <li className={`adapter ${active ? 'active' : ''}`} data-testid="adapter-card" data-adapter-id={adapter.id}>
      <div className="row between">
        {editing ? (
          <form
            className="row gap grow"
            onSubmit={(e) => {
              e.preventDefault();
              void renameAdapter(adapter.id, name.trim() || adapter.name);
              setEditing(false);
            }}
          >
            <input className="grow" value={name} onChange={(e) => setName(e.target.value)} autoFocus aria-label="adapter name" />
            <button className="secondary">Save</button>
          </form>
        ) : (
          <b className="adapter-name" data-testid="adapter-name">
            {adapter.name}
          </b>
        )}
        <span className="row gap">
          <span className={`badge ${adapter.source}`}>{adapter.source}</span>
          {active && <span className="badge active">active</span>}
        </span>
      </div>
      <div className="small muted">
        {adapter.method ? methodLine(adapter.method) : c.peftType === 'P_TUNING' ? `P-tuning prompt · ${c.numVirtualTokens} × ${c.tokenDim}` : `${c.numVirtualTokens} × ${c.tokenDim} · ${c.init}`}
        {!adapter.method && c.init === 'TEXT' && c.initText ? ` “${c.initText}”` : ''} · base {c.baseModel ?? 'unknown'}
        {c.revision ? ` @ ${c.revision.slice(0, 10)}` : ''} · {timeAgo(adapter.createdAt)}
      </div>
      <div className="row gap small metrics">
        {m.steps !== null && <span>{m.steps} steps</span>}
        {m.finalLoss !== null && <span>loss {formatLoss(m.finalLoss)}</span>}
        {m.bestValLoss !== null && <span>val {formatLoss(m.bestValLoss)}</span>}
        {m.accuracy !== null && (
          <span title={`measured on ${m.accuracy.rows}`}>
            {m.accuracy.heldOut ? 'held-out accuracy' : 'accuracy'} {formatPercent(m.accuracy.value)}
          </span>
        )}
        {m.backend && <span>{m.backend}</span>}
        {m.stepSeconds !== null && <span>{formatDuration(m.stepSeconds)}/step</span>}
        {m.trainableParams ? <span>{formatCount(m.trainableParams)} trained values</span> : null}
        {m.suite && <span title={`on the ${m.suite.count}-row suite of ${adapter.task ?? 'its task'}, ${timeAgo(m.suite.at)}`}>suite accuracy {formatPercent(m.suite.accuracy)}</span>}
        <Sparkline y={curve} />
      </div>
      <div className="row gap wrap actions">
        {!active && (
          <button
            className="secondary"
            disabled={!canUse}
            onClick={() => void setActiveAdapter(adapter.id)}
            title={canUse ? 'Use it for Evaluate, Try it and Inspect (the model stays loaded)' : 'Its width does not match the loaded model'}
          >
            Use
          </button>
        )}
        <button className="primary" data-testid="download-zip" onClick={() => void downloadAdapterZip(adapter.id)}>
          Download PEFT adapter (.zip)
        </button>
        <button
          className="secondary"
          onClick={async () => {
            if (files) return setFiles(null);
            const ex = await exportIt();
            if (ex) {
              setFiles(ex.files);
              setFolderName(ex.folderName);
            }
          }}
          aria-expanded={files !== null}
        >
          Files…
        </button>
        <button className="link" onClick={() => setEditing((x) => !x)}>
          rename
        </button>
        {(tasks.length > 0 || adapter.task) && (
          <label className="small">
            version of{' '}
            <select aria-label="task" value={adapter.task ?? ''} onChange={(e) => void setAdapterTask(adapter.id, e.target.value || null)}>
              <option value="">no task</option>
              {[...new Set([...(adapter.task ? [adapter.task] : []), ...tasks])].map((t) => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
            </select>
          </label>
        )}
        <button
          className="link danger"
          onClick={() => {
            if (confirm(`Delete the adapter “${adapter.name}” from this browser? Download it first if you want to keep it.`)) void deleteAdapter(adapter.id);
          }}
        >
          delete
        </button>
      </div>
      {files && (
        <ul className="file-list small">
          {Object.entries(files).map(([n, bytes]) => (
            <li key={n}>
              <button className="link" onClick={() => downloadBytes(bytes, n, mimeOf(n))}>
                {folderName}/{n}
              </button>{' '}
              <span className="muted">{bytes.byteLength.toLocaleString()} bytes</span>
            </li>
          ))}
        </ul>
      )}
    </li>
  );
}
