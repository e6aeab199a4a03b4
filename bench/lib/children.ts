/**
 * Each server runs in its own Node process so it gets its own event loop (and core), instead of
 * competing with the load generator's. The parent waits for the child's JSON ready line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { ReadyLine } from '../servers/child.js';

export interface ChildServer {
  name: string;
  pid: number | undefined;
  ready: ReadyLine;
  stop(): Promise<void>;
}

export interface StartOptions {
  name: string;
  file: string;
  args?: string[];
  /** Extra node flags, e.g. --cpu-prof. */
  nodeFlags?: string[];
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

const running = new Set<ChildProcess>();

// Last resort when the parent exits without stopping its children (e.g. an uncaught error).
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export function startServer(opts: StartOptions): Promise<ChildServer> {
  // TypeScript through tsx; a bundled server (built.ts) as it is.
  const loader = opts.file.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const args = [...(opts.nodeFlags ?? []), ...loader, opts.file, ...(opts.args ?? [])];
  // stdin is a pipe only so the child notices when we die (see servers/child.ts).
  const child = spawn(process.execPath, args, {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, ...opts.env },
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  return waitReady(child, opts).then((ready) => ({
    name: opts.name,
    pid: child.pid,
    ready,
    stop: () => stopChild(child),
  }));
}

function waitReady(child: ChildProcess, opts: StartOptions): Promise<ReadyLine> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (why: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void stopChild(child);
      reject(new Error(`${opts.name}: ${why}`));
    };
    const timer = setTimeout(() => fail('no ready line within timeout'), opts.timeoutMs ?? 60_000);
    child.once('exit', (code, signal) => fail(`exited before ready (code ${String(code)}, signal ${String(signal)})`));
    child.once('error', (err) => fail(err.message));
    if (child.stdout === null) return fail('no stdout');
    createInterface({ input: child.stdout }).on('line', (line) => {
      const ready = settled ? null : parseReady(line);
      if (ready === null) {
        process.stderr.write(`[${opts.name}] ${line}\n`);
        return;
      }
      settled = true;
      clearTimeout(timer);
      resolve(ready);
    });
  });
}

function parseReady(line: string): ReadyLine | null {
  try {
    const value: unknown = JSON.parse(line);
    if (typeof value !== 'object' || value === null) return null;
    const { ready, url, imageBytes } = value as Record<string, unknown>;
    if (ready !== true || typeof url !== 'string') return null;
    return typeof imageBytes === 'number' ? { ready, url, imageBytes } : { ready, url };
  } catch {
    return null;
  }
}

/** SIGTERM (lets the child close cleanly and flush a CPU profile), SIGKILL after 10 s. */
function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
