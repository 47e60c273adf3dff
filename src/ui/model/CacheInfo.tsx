import { useEffect, useState } from 'react';
import { whenEngine, toast } from '../app/actions.ts';
import { app } from '../app/state.ts';
import { useStore } from '../app/store.ts';
import { formatBytes } from '../common/format.ts';

interface Summary {
  files: number;
  bytes: number;
  models: { id: string; files: number; bytes: number }[];
  usage: number | null;
  quota: number | null;
  persisted: boolean | null;
}

/**
 * Asks the browser to keep this site's storage (Cache Storage included) under storage pressure.
 * Chromium decides without a prompt; Firefox asks the user. Called when the user loads from the Hub.
 */
export async function requestPersistentStorage(): Promise<boolean | null> {
  try {
    return (await navigator.storage?.persist?.()) ?? null;
  } catch {
    return null;
  }
}

/** What Cache Storage holds of downloaded models, the site's storage quota in use, what could not be kept, and a way to free it. */
export function CacheInfo() {
  const model = useStore(app, (s) => s.model);
  const [summary, setSummary] = useState<Summary | null>(null);
  const refresh = async () => setSummary(await (await whenEngine()).cacheSummary());
  useEffect(() => {
    void refresh().catch(() => undefined);
  }, [model]);
  const problems = model?.cacheProblems ?? [];
  return (
    <div className="cache-info small" data-testid="cache-info">
      {problems.length > 0 && (
        <div className="bad" data-testid="cache-problems">
          Not kept for the next visit, so they will be downloaded again:
          <ul className="cache-problems">
            {problems.map((p, i) => (
              <li key={i} data-reason={p.reason}>
                <b className="mono">{p.file}</b> {p.message}
              </li>
            ))}
          </ul>
        </div>
      )}
      {summary && (
        <div className="row between muted">
          <span>
            {summary.files === 0 ? 'No downloaded model files are cached.' : `Cached downloads: ${summary.models.map((m) => `${m.id} (${formatBytes(m.bytes)})`).join(', ')}`}
            {summary.usage !== null && summary.quota !== null ? (
              <span data-testid="storage-usage">
                {' '}
                · storage in use {formatBytes(summary.usage)} of {formatBytes(summary.quota)}
              </span>
            ) : null}
            {summary.persisted === false && summary.files > 0 ? (
              <span data-testid="storage-not-persisted" title="navigator.storage.persist() was not granted">
                {' '}
                · not persistent: the browser may evict it when the disk runs low
              </span>
            ) : summary.persisted ? (
              <span> · persistent</span>
            ) : null}
          </span>
          {summary.files > 0 && (
            <button
              type="button"
              className="link"
              onClick={async () => {
                await (await whenEngine()).clearCache();
                await refresh();
                toast('info', 'Cleared the downloaded model files. The loaded model stays in memory.');
              }}
            >
              Clear cache
            </button>
          )}
        </div>
      )}
    </div>
  );
}
