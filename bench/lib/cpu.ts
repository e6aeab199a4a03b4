/**
 * CPU time per process over a cell, so a result says which process was the bottleneck.
 * Children are read from /proc (Linux); elsewhere their figures are left out.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export type CpuProbe = () => number | undefined;

const ticksPerSecond = readClockTicks();

function readClockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

/** User + system CPU milliseconds a process has used so far. */
export function processCpu(pid: number | undefined): CpuProbe {
  return () => {
    if (pid === undefined) return undefined;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the command name, which may itself hold spaces: utime and stime are 14th and 15th.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
    } catch {
      return undefined;
    }
  };
}

export const ownCpu: CpuProbe = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/** Starts counting; the returned function gives the CPU ms used since. */
export function cpuMeter(probe: CpuProbe): () => number | undefined {
  const start = probe();
  return () => {
    const end = probe();
    return start === undefined || end === undefined ? undefined : end - start;
  };
}

/** CPU milliseconds the whole machine has been busy (all cores; idle and iowait excluded). */
export const machineBusyCpu: CpuProbe = () => {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const ticks = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
    // guest time is already inside user/nice: count only the first eight fields.
    const total = ticks.slice(0, 8).reduce((a, b) => a + b, 0);
    return ((total - idle) * 1000) / ticksPerSecond;
  } catch {
    return undefined;
  }
};

/**
 * Waits until a process has gone quiet (under 10% of a core for two readings 250 ms apart), at
 * most `maxMs`: a relay stores images after it has answered, and that work must not land in
 * the next target's measurement.
 */
export async function waitQuiet(pid: number | undefined, maxMs = 30_000): Promise<void> {
  const probe = processCpu(pid);
  const until = Date.now() + maxMs;
  let quiet = 0;
  let last = probe();
  while (last !== undefined && quiet < 2 && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const now = probe();
    if (now === undefined) return;
    quiet = now - last < 25 ? quiet + 1 : 0;
    last = now;
  }
}
