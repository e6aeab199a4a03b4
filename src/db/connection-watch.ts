/**
 * Whether the database is reachable, as the last connection or statement saw it. Logs once per
 * outage (when it starts, and when it ends), never once per failed statement: an outage under
 * load would otherwise print thousands of lines. A blip shorter than the grace (sessions killed
 * and made again at once) is not an outage; blips are summed up at most once a minute.
 */
import { databaseFault } from './unavailable.js';

export interface WatchLog {
  warn(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
}

export interface WatchOptions {
  /** A fault is an outage once nothing has answered for this long. */
  graceMs?: number;
  /** Blips are reported at most this often. */
  blipReportMs?: number;
  now?: () => number;
}

interface Down {
  since: number;
  failures: number;
  reason: string;
  fault: string;
  announced: boolean;
  timer: NodeJS.Timeout;
}

export class ConnectionWatch {
  private down: Down | null = null;
  private blips = 0;
  private blipFailures = 0;
  private lastBlipReport = Number.NEGATIVE_INFINITY;
  private readonly graceMs: number;
  private readonly blipReportMs: number;
  private readonly now: () => number;

  constructor(
    private readonly log: WatchLog,
    options: WatchOptions = {},
  ) {
    this.graceMs = options.graceMs ?? 1_000;
    this.blipReportMs = options.blipReportMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  get isDown(): boolean {
    return this.down !== null;
  }

  /** A connection or statement failed; only database faults count (a bad statement says nothing). */
  failed(err: unknown): void {
    const fault = databaseFault(err);
    if (!fault) return;
    if (this.down) {
      this.down.failures++;
      return;
    }
    const down: Down = {
      since: this.now(),
      failures: 1,
      reason: reasonOf(err),
      fault,
      announced: false,
      timer: setTimeout(() => this.announce(down), this.graceMs),
    };
    down.timer.unref();
    this.down = down;
  }

  /** A connection was made or a statement answered. */
  answered(): void {
    const down = this.down;
    if (!down) return;
    this.down = null;
    clearTimeout(down.timer);
    const downMs = this.now() - down.since;
    if (down.announced) {
      this.log.info({ downMs, failures: down.failures }, 'database available again');
      return;
    }
    this.blips++;
    this.blipFailures += down.failures;
    if (this.now() - this.lastBlipReport < this.blipReportMs) return;
    this.log.info({ blips: this.blips, failures: this.blipFailures, lastReason: down.reason }, 'database connections were lost and made again');
    this.lastBlipReport = this.now();
    this.blips = 0;
    this.blipFailures = 0;
  }

  private announce(down: Down): void {
    if (this.down !== down) return;
    down.announced = true;
    this.log.warn({ fault: down.fault, reason: down.reason, failures: down.failures }, 'database unavailable: answering 503 until it is back');
  }
}

export function reasonOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
}
