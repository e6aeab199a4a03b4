/**
 * What an instance needs before it should be sent traffic, as named checks (the database,
 * Redis, ...). Each check must answer within the bound or counts as down, so a stalled
 * dependency makes the probe say "not ready" quickly instead of making it hang. An optional
 * check is reported but does not make the instance unready (it serves without that dependency).
 */

/** Resolves when the dependency answers; rejects (or outlives the bound) when it does not. */
export type ReadinessCheck = (timeoutMs: number) => Promise<void>;

export type CheckState = 'ok' | 'down';

export interface Readiness {
  /** Every required check is ok. */
  ready: boolean;
  /** An optional check is down: the instance serves, without that dependency. */
  degraded: boolean;
  checks: Record<string, CheckState>;
  /** The required checks that are down, in the order they were added. */
  failing: string[];
}

interface Entry {
  check: ReadinessCheck;
  optional: boolean;
}

export class ReadinessChecks {
  private readonly checks = new Map<string, Entry>();

  constructor(private readonly timeoutMs = 800) {}

  add(name: string, check: ReadinessCheck, options: { optional?: boolean } = {}): this {
    if (this.checks.has(name)) throw new Error(`readiness check '${name}' is added twice`);
    this.checks.set(name, { check, optional: options.optional ?? false });
    return this;
  }

  /** Runs every check at once; each gets the bound, and one that outlives it is down. */
  async run(): Promise<Readiness> {
    const results = await Promise.all([...this.checks].map(async ([name, entry]) => ({ name, optional: entry.optional, state: await this.state(entry.check) })));
    const failing = results.filter((r) => !r.optional && r.state === 'down').map((r) => r.name);
    const degraded = results.some((r) => r.optional && r.state === 'down');
    return { ready: failing.length === 0, degraded, checks: Object.fromEntries(results.map((r) => [r.name, r.state])), failing };
  }

  private async state(check: ReadinessCheck): Promise<CheckState> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<CheckState>((resolve) => (timer = setTimeout(() => resolve('down'), this.timeoutMs)));
    // A check that throws at once is down too, not an error of the probe.
    const answer = Promise.resolve()
      .then(() => check(this.timeoutMs))
      .then(
        (): CheckState => 'ok',
        (): CheckState => 'down',
      );
    try {
      return await Promise.race([answer, late]);
    } finally {
      clearTimeout(timer);
    }
  }
}
