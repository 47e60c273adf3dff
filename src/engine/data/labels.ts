// Label comparison and the majority-class baseline, shared by the engine's evaluation, the CLI
// and the page (no tfjs here).

/** Normalises a generated or gold label for comparison. */
export function normalizeLabel(s: string): string {
  return s.trim().replace(/\s+/g, ' ').toLowerCase();
}

/** Accuracy of always answering the most frequent label; a tie goes to the label that sorts first. */
export function majorityBaseline(examples: { target: string }[]): { label: string; accuracy: number } | null {
  if (!examples.length) return null;
  const counts = new Map<string, number>();
  for (const e of examples) counts.set(normalizeLabel(e.target), (counts.get(normalizeLabel(e.target)) ?? 0) + 1);
  const [label, n] = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))[0];
  return { label, accuracy: n / examples.length };
}
