/**
 * Start-up against a database that is not there yet (restarting, failing over, still booting
 * beside the gateway): tried again with backoff for a bounded time instead of exiting. Other
 * errors (a wrong password, a missing database) end the start at once: waiting would not help.
 */
import { reasonOf } from './connection-watch.js';
import { isDatabaseUnavailable } from './unavailable.js';

export interface StartupWaitOptions {
  /** The longest start-up waits in all; 0: fail at the first error. */
  maxWaitMs: number;
  /** Told once per wait, before it. */
  onWait: (reason: string, delayMs: number, waitedMs: number) => void;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 10_000;

export async function waitForDatabase<T>(attempt: () => Promise<T>, options: StartupWaitOptions): Promise<T> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const started = now();
  for (let delay = FIRST_DELAY_MS; ; delay = Math.min(delay * 2, MAX_DELAY_MS)) {
    try {
      return await attempt();
    } catch (err) {
      if (!isDatabaseUnavailable(err)) throw err;
      const waited = now() - started;
      const wait = Math.min(delay, options.maxWaitMs - waited);
      if (wait <= 0) {
        const bound = options.maxWaitMs > 0 ? ` within ${Math.round(options.maxWaitMs / 1000)}s` : '';
        throw new Error(`the database is unavailable${bound}: ${reasonOf(err)}`, { cause: err });
      }
      options.onWait(reasonOf(err), wait, waited);
      await sleep(wait);
    }
  }
}
