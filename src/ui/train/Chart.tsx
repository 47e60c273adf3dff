import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartSeries {
  label: string;
  color: string;
  width?: number;
  dash?: number[];
  points?: boolean;
  /** Drawn as points only (e.g. validation loss at a few steps). */
  pointsOnly?: boolean;
}

/** A uPlot chart that follows its container's width and redraws when `data` changes. */
export function Chart(props: {
  title: string;
  series: ChartSeries[];
  data: uPlot.AlignedData;
  height?: number;
  yLabel?: string;
  xLabel?: string;
  log?: boolean;
  testId?: string;
  format?: (v: number) => string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const latest = useRef(props.data);
  latest.current = props.data;
  const shape = JSON.stringify(props.series) + (props.log ? 'log' : '');
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const fmt = props.format ?? ((v: number) => (v === null ? '' : Math.abs(v) >= 1000 ? v.toFixed(0) : v.toPrecision(4)));
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: props.height ?? 220,
      title: props.title,
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
      scales: { x: { time: false }, y: props.log ? { distr: 3 } : {} },
      axes: [
        { label: props.xLabel ?? 'step', stroke: '#6b7280', incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000], grid: { stroke: '#e5e7eb' }, ticks: { stroke: '#e5e7eb' } },
        { label: props.yLabel, stroke: '#6b7280', grid: { stroke: '#e5e7eb' }, ticks: { stroke: '#e5e7eb' }, size: 56, values: (_u, vals) => vals.map((v) => (v === null ? '' : fmt(v))) },
      ],
      series: [
        { label: 'step' },
        ...props.series.map((s): uPlot.Series => ({
          label: s.label,
          stroke: s.color,
          width: s.pointsOnly ? 0 : (s.width ?? 1.5),
          dash: s.dash,
          spanGaps: true,
          points: s.pointsOnly ? { show: true, size: 7, fill: s.color, stroke: s.color } : { show: s.points ?? false },
          value: (_u, v) => (v === null || v === undefined ? '–' : fmt(v)),
        })),
      ],
    };
    // Each chart is built in a task of its own, so starting a run never blocks the page at once.
    let u: uPlot | null = null;
    let ro: ResizeObserver | null = null;
    const timer = setTimeout(() => {
      u = new uPlot(opts, latest.current, el);
      plot.current = u;
      ro = new ResizeObserver(() => u?.setSize({ width: Math.max(200, el.clientWidth), height: props.height ?? 220 }));
      ro.observe(el);
    }, 0);
    return () => {
      clearTimeout(timer);
      ro?.disconnect();
      u?.destroy();
      plot.current = null;
    };
    // Rebuilt only when the series set changes; data updates go through setData below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shape, props.height, props.title]);
  useEffect(() => {
    // Each chart redraws in a task of its own: three charts never add up to one long task.
    const t = setTimeout(() => plot.current?.setData(props.data), 0);
    return () => clearTimeout(t);
  }, [props.data]);
  return <div className="chart" ref={box} style={{ minHeight: (props.height ?? 220) + 60 }} data-testid={props.testId} data-points={props.data[0].length} />;
}
