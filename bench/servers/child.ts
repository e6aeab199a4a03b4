/** What every bench server child shares: the ready line the parent waits for, and shutdown. */

export interface ReadyLine {
  ready: true;
  url: string;
  /** Simulator only: the size of the image every generation returns. */
  imageBytes?: number;
}

/** One JSON line on stdout; the parent reads nothing else from it. */
export function announceReady(line: Omit<ReadyLine, 'ready'>): void {
  const ready: ReadyLine = { ready: true, ...line };
  process.stdout.write(`${JSON.stringify(ready)}\n`);
}

/**
 * Closes on SIGTERM/SIGINT, and when the parent's stdin pipe ends (the parent died), so no
 * server outlives a crashed run. process.exit after close also flushes --cpu-prof output.
 */
export function closeOnShutdown(close: () => Promise<void>): void {
  let closing = false;
  const shutdown = (): void => {
    if (closing) return;
    closing = true;
    close()
      .catch((err: unknown) => process.stderr.write(`close failed: ${String(err)}\n`))
      .finally(() => process.exit(0));
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  process.stdin.once('end', shutdown);
  process.stdin.once('close', shutdown);
  process.stdin.resume();
}

/** The single positional argument pipe and gateway take: the upstream origin. */
export function upstreamArg(): URL {
  const value = process.argv[2];
  if (value === undefined) throw new Error('usage: <server>.ts <upstream origin, e.g. http://127.0.0.1:1234>');
  return new URL(value);
}
