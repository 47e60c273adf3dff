import type { DataStats } from '../../worker/protocol.ts';
import { formatCount } from '../common/format.ts';

export function LengthStats({ stats }: { stats: DataStats }) {
  const t = stats.train;
  const { truncated } = stats;
  return (
    <div className="length-stats small" data-testid="length-stats">
      <div>
        <b>{formatCount(stats.trainCount)}</b> train / <b>{formatCount(stats.valCount)}</b> validation examples · {stats.stepsPerEpoch} steps per epoch
      </div>
      <div className="muted">
        Tokens per example: min {t.min}, mean {t.mean.toFixed(1)}, 95% ≤ {t.p95}, max {t.max} (limit {stats.maxLength})
      </div>
      <div className={truncated ? 'warn' : 'muted'} data-testid="truncated-count">
        {truncated === 0 ? 'No example is truncated.' : `${truncated} example${truncated === 1 ? '' : 's'} longer than ${stats.maxLength} tokens will lose the start of their input.`}
      </div>
    </div>
  );
}
