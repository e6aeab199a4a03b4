/** The real CLI (`imagegate serve`) in a child process, so a test can SIGKILL it like a crash would. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const CLI = ['--import', 'tsx', join(import.meta.dirname, '..', '..', 'src', 'cli.ts'), 'serve'];
/**
 * How long a start may take: it loads (and tsx compiles) the whole server, a few seconds idle but
 * past 30 s on a 2-core machine under load, with other gateways starting beside it.
 */
const START_DEADLINE_MS = 90_000;

export interface ChildGateway {
  child: ChildProcess;
  origin: string;
  /** Everything it printed so far (logs), for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts it on a port of its own choosing; the environment is this process's minus upstream keys,
 * plus `extra`. `onOutput` sees what it prints from the first byte, before it listens; `nodeFlags`
 * go to its node before the CLI.
 */
export async function spawnGateway(extra: Record<string, string>, onOutput?: (chunk: string) => void, nodeFlags: string[] = []): Promise<ChildGateway> {
  const { OPENAI_API_KEY: _k, OPENAI_BASE_URL: _b, IMAGEGATE_API_KEYS: _a, ...rest } = process.env;
  const child = spawn(process.execPath, [...nodeFlags, ...CLI], {
    env: { ...rest, PORT: '0', LOG_LEVEL: 'info', ...extra },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const take = (c: Buffer) => {
    out += c.toString();
    onOutput?.(c.toString());
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  const started = Date.now();
  while (!/listening on (http:\/\/[\d.:]+)/.test(out)) {
    if (Date.now() - started > START_DEADLINE_MS || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(
        `gateway did not start (${child.exitCode === null ? `not listening after ${START_DEADLINE_MS} ms` : `exited ${child.exitCode}`}):\n${out}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const origin = /listening on (http:\/\/[\d.:]+)/.exec(out)?.[1] ?? '';
  return {
    child,
    origin,
    output: () => out,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Several started together (on one database, say); when one does not start, the others are stopped before its error is thrown. */
export async function spawnGateways(count: number, extra: Record<string, string>): Promise<ChildGateway[]> {
  const started = await Promise.allSettled(Array.from({ length: count }, () => spawnGateway(extra)));
  const gateways = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s) => s.status === 'rejected');
  if (failed === undefined) return gateways;
  await Promise.all(gateways.map((g) => g.stop()));
  throw failed.reason;
}
