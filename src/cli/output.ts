// stdout carries JSON only (one object per line); humans get a progress line on stderr when
// it is a terminal.

export function emit(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

const tty = Boolean(process.stderr.isTTY);

/** Redraws one status line on stderr (terminals only). */
export function status(text: string): void {
  if (!tty) return;
  const width = process.stderr.columns || 100;
  process.stderr.write('\r' + text.slice(0, width - 1).padEnd(width - 1));
}

export function statusDone(): void {
  if (tty) process.stderr.write('\n');
}

export function bar(fraction: number, width = 24): string {
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return '[' + '#'.repeat(filled) + '-'.repeat(width - filled) + ']';
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
