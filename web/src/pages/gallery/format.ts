/** How the console's lists write sizes, times and spans; shared by the gallery, tasks and usage pages. */

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(2)} MB`;
}

/** A span down to the second, so a countdown visibly counts: "2d 3h 4m 05s", "4m 05s", "12s". */
export function formatSpan(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const days = Math.floor(s / 86_400);
  const hours = Math.floor((s % 86_400) / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  if (days > 0) return `${days}d ${hours}h ${minutes}m ${String(rest).padStart(2, '0')}s`;
  if (hours > 0) return `${hours}h ${String(minutes).padStart(2, '0')}m ${String(rest).padStart(2, '0')}s`;
  if (minutes > 0) return `${minutes}m ${String(rest).padStart(2, '0')}s`;
  return `${rest}s`;
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/**
 * A date input's day (YYYY-MM-DD, local time) as the epoch milliseconds the list filters take: the start
 * of the day for `from`, its last millisecond for `to`, so a one-day range holds the whole day.
 */
export function dayBound(day: string | undefined, end: 'start' | 'end'): number | undefined {
  if (!day) return undefined;
  const at = Date.parse(`${day}T${end === 'start' ? '00:00:00.000' : '23:59:59.999'}`);
  return Number.isNaN(at) ? undefined : at;
}
