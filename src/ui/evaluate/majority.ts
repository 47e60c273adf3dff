// The majority-class baseline, computed on the page (the engine's copy lives beside tfjs code).

const norm = (s: string) => s.trim().replace(/\s+/g, ' ').toLowerCase();

export function majorityBaseline(examples: { target: string }[]): { label: string; accuracy: number } | null {
  if (!examples.length) return null;
  const counts = new Map<string, number>();
  for (const e of examples) counts.set(norm(e.target), (counts.get(norm(e.target)) ?? 0) + 1);
  const [label, n] = [...counts].sort((a, b) => b[1] - a[1])[0];
  return { label, accuracy: n / examples.length };
}
