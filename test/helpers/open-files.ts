/** Files this process holds open under a directory (Linux: /proc/self/fd), deleted ones included. */
import { readdirSync, readlinkSync } from 'node:fs';

export function openFilesUnder(dir: string): string[] {
  const open: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(`${dir}/`)) open.push(target);
    } catch {
      // Closed since the listing (the listing's own descriptor among them).
    }
  }
  return open;
}
