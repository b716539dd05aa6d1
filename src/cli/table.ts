/**
 * Tables and relative ages for stdout, as kubectl prints them: upper-case headers,
 * columns separated by three spaces, ages like `45s`, `12m`, `3h4m`, `2d5h`, `40d`.
 */
import { oneLine } from './terminal-text.js';

/** kubectl's `HumanDuration`-style age of `since` at `now` (ms); `<unknown>` without a time. */
export function formatAge(since: string | null | undefined, now: number): string {
  if (!since) return '<unknown>';
  const t = Date.parse(since);
  if (Number.isNaN(t)) return '<unknown>';
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return `${m}m${s % 60 ? `${s % 60}s` : ''}`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return `${h}h${m % 60 ? `${m % 60}m` : ''}`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (d < 8) return `${d}d${h % 24 ? `${h % 24}h` : ''}`;
  if (d < 365 * 2) return `${d}d`;
  const y = Math.floor(d / 365);
  return `${y}y${d % 365 ? `${d % 365}d` : ''}`;
}

/** Display width: code points (good enough for IDs, names and statuses). */
function width(s: string): number {
  return [...s].length;
}

/**
 * Left-aligned columns, three spaces apart, no trailing spaces. Cells are made one
 * line with control characters escaped (they come from the cluster). `paint` colours
 * a cell after padding (so ANSI codes never skew the alignment).
 */
export function formatTable(headers: string[], cells: string[][], paint?: (col: number, cell: string) => string): string {
  const rows = cells.map((r) => r.map(oneLine));
  const widths = headers.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ''))));
  const line = (cells: string[], isHeader: boolean) =>
    cells
      .map((c, i) => {
        const last = i === cells.length - 1;
        const padded = last ? c : c + ' '.repeat((widths[i] ?? 0) - width(c));
        if (isHeader || !paint) return padded;
        return paint(i, c) + padded.slice(c.length);
      })
      .join('   ')
      .replace(/\s+$/, '');
  return [line(headers, true), ...rows.map((r) => line(r, false))].join('\n') + '\n';
}
