/** A tiny loss curve for an adapter card. */
export function Sparkline({ y, width = 120, height = 28 }: { y: number[]; width?: number; height?: number }) {
  const values = y.filter(Number.isFinite);
  if (values.length < 2) return null;
  const min = Math.min(...values);
  const max = Math.max(...values);
  const step = Math.max(1, Math.floor(values.length / 100));
  const pts = values
    .filter((_, i) => i % step === 0 || i === values.length - 1)
    .map((v, i, arr) => `${((i / (arr.length - 1)) * width).toFixed(1)},${(height - 2 - ((v - min) / Math.max(max - min, 1e-9)) * (height - 4)).toFixed(1)}`);
  return (
    <svg className="sparkline" width={width} height={height} viewBox={`0 0 ${width} ${height}`} aria-label={`loss from ${values[0].toFixed(3)} to ${values.at(-1)?.toFixed(3)}`}>
      <polyline points={pts.join(' ')} fill="none" stroke="#6d4aff" strokeWidth="1.5" />
    </svg>
  );
}
