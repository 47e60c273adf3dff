/** TensorBoard-style exponential moving average with bias correction (no lag at the start). */
export function smooth(values: number[], weight: number): number[] {
  const out: number[] = [];
  let last = 0;
  let n = 0;
  for (const v of values) {
    if (!Number.isFinite(v)) {
      out.push(v);
      continue;
    }
    last = last * weight + (1 - weight) * v;
    n += 1;
    out.push(last / (1 - weight ** n));
  }
  return out;
}

/** Series over different x values → one x array with null where a series has no point. */
export function align(series: { x: number[]; y: number[] }[]): [number[], ...(number | null)[][]] {
  const xs = [...new Set(series.flatMap((s) => s.x))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const ys = series.map((s) => {
    const col: (number | null)[] = new Array(xs.length).fill(null);
    s.x.forEach((x, i) => (col[index.get(x) as number] = s.y[i]));
    return col;
  });
  return [xs, ...ys];
}
