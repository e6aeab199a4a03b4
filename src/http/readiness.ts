/**
 * What an instance needs before it should be sent traffic, as named checks: the database, Redis
 * (with REDIS_URL), the image store, a channel that can take requests. All run at once, each
 * within the bound: one that throws, or has not answered when the bound runs out, has failed, so
 * a hung dependency makes the probe say "not ready" within the bound instead of making it hang.
 */
import { withDeadline } from '../core/deadline.js';

/** Resolves when the dependency answers; rejects (its message is the reason) or outlives the bound when it does not. */
export type ReadinessCheck = (timeoutMs: number) => Promise<void>;

export interface CheckResult {
  status: 'ok' | 'failed';
  /** How long the check took (the bound, when it did not answer). */
  latencyMs: number;
  /** Why it failed: the dependency's error, or that it did not answer in time. */
  reason?: string;
}

export interface Readiness {
  /** Every check is ok. */
  ready: boolean;
  checks: Record<string, CheckResult>;
  /** The checks that failed, in the order they were added. */
  failing: string[];
}

/** A reason is for an operator's eyes, one line: the start of the error's first line. */
const MAX_REASON_CHARS = 300;

export class ReadinessChecks {
  private readonly checks = new Map<string, ReadinessCheck>();

  constructor(
    private readonly timeoutMs = 800,
    private readonly now: () => number = () => performance.now(),
  ) {}

  add(name: string, check: ReadinessCheck): this {
    if (this.checks.has(name)) throw new Error(`readiness check '${name}' is added twice`);
    this.checks.set(name, check);
    return this;
  }

  /** Runs every check at once; each gets the bound, and one that outlives it has failed. */
  async run(): Promise<Readiness> {
    const results = await Promise.all([...this.checks].map(async ([name, check]) => [name, await this.result(check)] as const));
    const failing = results.filter(([, r]) => r.status === 'failed').map(([name]) => name);
    return { ready: failing.length === 0, checks: Object.fromEntries(results), failing };
  }

  private result(check: ReadinessCheck): Promise<CheckResult> {
    const started = this.now();
    const took = () => Math.max(0, Math.round(this.now() - started));
    // A check that throws at once has failed too; it is not an error of the probe.
    const answer = Promise.resolve()
      .then(() => check(this.timeoutMs))
      .then(
        (): CheckResult => ({ status: 'ok', latencyMs: took() }),
        (err: unknown): CheckResult => ({ status: 'failed', latencyMs: took(), reason: reasonOf(err) }),
      );
    return withDeadline(answer, this.timeoutMs, (): CheckResult => ({ status: 'failed', latencyMs: took(), reason: `no answer within ${this.timeoutMs} ms` }));
  }
}

function reasonOf(err: unknown): string {
  const text = err instanceof Error ? err.message || err.name : String(err);
  const line = (text.split('\n')[0] ?? '').trim() || 'failed';
  return line.length > MAX_REASON_CHARS ? `${line.slice(0, MAX_REASON_CHARS - 1)}…` : line;
}
