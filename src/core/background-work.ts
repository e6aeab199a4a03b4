/**
 * Work done after the response (storing b64 images, log rows): tracked so shutdown can wait
 * for it and nothing accepted is lost. Failures are reported, never thrown at the caller.
 */
export class BackgroundWork {
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly onError: (err: unknown, what: string) => void) {}

  /** Starts `work` after the current I/O turn, so the answer being written goes out first. */
  run(what: string, work: () => Promise<void>): void {
    const promise = new Promise<void>((resolve) => setImmediate(resolve))
      .then(work)
      .catch((err: unknown) => this.onError(err, what))
      .finally(() => this.pending.delete(promise));
    this.pending.add(promise);
  }

  get size(): number {
    return this.pending.size;
  }

  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }
}
