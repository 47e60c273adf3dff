import { useEffect, useState } from 'react';
import { whenEngine } from '../app/engine.ts';
import { toast } from '../app/toasts.ts';
import { app } from '../app/state.ts';
import { useStore } from '../app/store.ts';
import { formatBytes } from '../common/format.ts';

interface Summary {
  files: number;
  bytes: number;
  models: { id: string; files: number; bytes: number }[];
}

/** What Cache Storage holds of downloaded models, and a way to free it. */
export function CacheInfo() {
  const model = useStore(app, (s) => s.model);
  const [summary, setSummary] = useState<Summary | null>(null);
  const refresh = async () => setSummary(await (await whenEngine()).cacheSummary());
  useEffect(() => {
    void refresh().catch(() => undefined);
  }, [model]);
  if (!summary) return null;
  return (
    <div className="cache-info small muted row between" data-testid="cache-info">
      <span>
        {summary.files === 0 ? 'No downloaded model files are cached.' : `Cached downloads: ${summary.models.map((m) => m.id).join(', ')} (${formatBytes(summary.bytes)})`}
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
  );
}
