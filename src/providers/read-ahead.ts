/**
 * An upstream answer taken off its connection as fast as it arrives, whatever pace its reader
 * keeps, within the process's memory budget. Answers pass through at the client's pace; without
 * this, a slow client stalls the upstream's connection with the answer's tail still unsent. An
 * upstream that has written its whole answer closes a keep-alive connection that stays quiet
 * (Node's server after 5 s by default), and the kernel gives up on what a closed socket could not
 * send to a reader that takes nothing: the answer arrives truncated ("other side closed") though
 * the upstream sent all of it. Read ahead, the upstream's part ends when its answer does.
 *
 * It starts only once the answer has been passing for `stallMs` since its first piece and is not
 * over (a reader that keeps up pulls each piece itself: reading ahead eagerly would split the
 * answer into more, smaller pieces, each with its cost downstream). Counted from the first piece,
 * not from the last: a reader that takes every piece within the second but the whole answer over
 * half a minute (a busy gateway in a flood of answers) keeps the upstream waiting as surely as one
 * that stops. What is read ahead is kept in memory up to `spill.memoryBytes`
 * per answer, counted in the budget; the rest waits in a spill file (spool/answer-spill.ts) and
 * is read back at the reader's pace: a thousand stalled 3 MB answers would otherwise be 3 GB of
 * memory. Reading ahead stops once half the memory budget is in use (the other half stays for new
 * requests' bodies, which are refused with 503 past the budget), three quarters of the spool's disk
 * budget (the rest stays for uploads), or
 * `maxBytes` are ahead for one answer, and the answer goes at the reader's pace again.
 */
import type { MemoryBudget } from '../core/memory-budget.js';
import { AnswerSpill, type SpillDir } from '../spool/answer-spill.js';

/** Enough for the largest answers whole (a 4K PNG is ~27 MB as base64), so their upstream is done with at once. */
export const ANSWER_READ_AHEAD_BYTES = 32 * 1024 * 1024;

export interface ReadAheadLimits {
  readonly budget: MemoryBudget;
  /** The most one answer may hold ahead of its reader. */
  readonly maxBytes: number;
  /** How long an answer may take to pass, from its first piece, before the rest is read ahead; default 1 s. */
  readonly stallMs?: number;
  /** Past `memoryBytes` held for one answer, the rest goes to a file in `dir`; without it, all is held in memory. */
  readonly spill?: { readonly dir: SpillDir; readonly memoryBytes: number };
}

/** What one answer keeps in memory ahead of its reader before the rest goes to disk. */
export const ANSWER_READ_AHEAD_MEMORY_BYTES = 64 * 1024;

/** Pieces read back from a spill file: this much at a time at most. */
const SPILL_READ_BYTES = 64 * 1024;

/** The part of the spool's disk budget answers may fill; the rest stays for uploads. */
const SPOOL_SHARE = 0.75;

/** Far below the few seconds after which an upstream closes a quiet keep-alive connection. */
const DEFAULT_STALL_MS = 1_000;

export async function* readAhead(source: AsyncIterable<Buffer>, limits: ReadAheadLimits): AsyncGenerator<Buffer, void, undefined> {
  const pump = new Pump(source[Symbol.asyncIterator](), limits);
  try {
    for (;;) {
      let chunk: Buffer | undefined = await pump.take();
      if (chunk === undefined) return;
      pump.handedOver();
      yield chunk;
      // Not kept while the next is awaited (core/each-once.ts says why).
      chunk = undefined;
    }
  } finally {
    await pump.stop();
  }
}

/**
 * The reader pulls each piece itself until it stalls; from then the source is read into a queue
 * (then a spill file) while the limits allow. Order: a piece goes to the memory queue only while
 * the spill file has nothing unread, and the reader takes the queue before the file.
 */
class Pump {
  private readonly queue: Buffer[] = [];
  /** Bytes in the queue, all of them counted in the budget. */
  private queued = 0;
  /** Opened with the first piece that does not fit in memory. */
  private spill: AnswerSpill | null = null;
  /** Nothing more will be queued (the source ended or failed, or the spill failed). */
  private ended = false;
  /** The source itself is over: it has nothing to let go. */
  private sourceDone = false;
  private failure: { error: unknown } | null = null;
  private stopped = false;
  /** Reading ahead (the answer took longer than stallMs): the queue is filled by `run`. */
  private running: Promise<void> | null = null;
  private stallTimer: NodeJS.Timeout | undefined;
  /** stallMs has passed: reading ahead starts as soon as the reader's own pull (if one is under way) is over. */
  private due = false;
  /** The reader is pulling from the source itself: the pump must not pull beside it. */
  private pulling = false;
  /** Wakes the reader (something queued, or the end) or the pump (room made). */
  private wakeReader: (() => void) | null = null;
  private wakePump: (() => void) | null = null;

  constructor(
    private readonly source: AsyncIterator<Buffer>,
    private readonly limits: ReadAheadLimits,
  ) {}

  async take(): Promise<Buffer | undefined> {
    if (!this.running) {
      const chunk = await this.pull();
      if (this.due) this.startReadingAhead();
      return chunk;
    }
    for (;;) {
      const chunk = this.queue.shift();
      if (chunk !== undefined) {
        this.queued -= chunk.length;
        this.limits.budget.release(chunk.length);
        this.wake('pump');
        return chunk;
      }
      if (this.spill && this.spill.unread > 0) {
        const piece = await this.spill.read(SPILL_READ_BYTES);
        this.wake('pump');
        return piece;
      }
      if (this.spill?.failed) throw this.spill.failed.error;
      if (this.failure) throw this.failure.error;
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => {
        this.wakeReader = resolve;
      });
    }
  }

  /** A piece went to the reader: from the first, if the answer is not over within stallMs, the rest is read ahead. */
  handedOver(): void {
    if (this.running || this.ended || this.stopped || this.stallTimer !== undefined) return;
    this.stallTimer = setTimeout(() => {
      this.due = true;
      if (!this.pulling) this.startReadingAhead();
    }, this.limits.stallMs ?? DEFAULT_STALL_MS);
  }

  private startReadingAhead(): void {
    if (this.running || this.ended || this.stopped) return;
    this.running = this.run();
  }

  /** The reader is done (or gone): the source is let go, what was read ahead given back, the spill file closed. */
  async stop(): Promise<void> {
    clearTimeout(this.stallTimer);
    this.stopped = true;
    this.wake('pump');
    // Also after a failed spill: the upstream's connection must not wait for a reader that never comes.
    if (!this.sourceDone) await this.source.return?.().catch(() => {});
    await this.running;
    for (const chunk of this.queue.splice(0)) this.limits.budget.release(chunk.length);
    this.queued = 0;
    await this.spill?.close().catch(() => {});
  }

  /** Not reading ahead: the reader's own pull. */
  private async pull(): Promise<Buffer | undefined> {
    this.pulling = true;
    try {
      const next = await this.next();
      if (next.done) {
        this.ended = true;
        clearTimeout(this.stallTimer);
        return undefined;
      }
      return next.value;
    } finally {
      this.pulling = false;
    }
  }

  private async next(): Promise<IteratorResult<Buffer>> {
    try {
      const next = await this.source.next();
      if (next.done) this.sourceDone = true;
      return next;
    } catch (err) {
      this.sourceDone = true;
      throw err;
    }
  }

  private async run(): Promise<void> {
    try {
      while (!this.stopped) {
        // Over the limits: wait for the reader to take what is ahead, then read one more.
        if (this.ahead() > 0 && !this.hasRoom()) {
          await new Promise<void>((resolve) => {
            this.wakePump = resolve;
          });
          continue;
        }
        const next = await this.next();
        if (next.done) break;
        if (this.stopped) return;
        await this.keep(next.value);
        this.wake('reader');
      }
    } catch (err) {
      // A failed spill write loses its piece: the reader gets everything before it, then this.
      this.failure = { error: err };
    } finally {
      this.ended = true;
      this.wake('reader');
    }
  }

  /** Queues a piece in memory, or appends it to the spill file once memory holds enough of this answer. */
  private async keep(chunk: Buffer): Promise<void> {
    const spill = this.limits.spill;
    if (spill && (this.spill?.unread || this.queued + chunk.length > spill.memoryBytes)) {
      this.spill ??= await AnswerSpill.open(spill.dir);
      if (this.stopped) return;
      this.spill.push(chunk);
      if (this.spill.failed) throw this.spill.failed.error;
      return;
    }
    // Counted whether or not it fits: it is held now either way.
    if (!this.limits.budget.tryTake(chunk.length)) this.limits.budget.force(chunk.length);
    this.queue.push(chunk);
    this.queued += chunk.length;
  }

  /** Bytes read ahead and not yet taken, in memory and on disk. */
  private ahead(): number {
    return this.queued + (this.spill?.unread ?? 0);
  }

  private hasRoom(): boolean {
    const { budget, spill } = this.limits;
    if (this.ahead() >= this.limits.maxBytes || budget.inUse >= budget.limit / 2) return false;
    return !spill || spill.dir.budget.inUse < spill.dir.budget.limit * SPOOL_SHARE;
  }

  private wake(who: 'reader' | 'pump'): void {
    const wake = who === 'reader' ? this.wakeReader : this.wakePump;
    if (who === 'reader') this.wakeReader = null;
    else this.wakePump = null;
    wake?.();
  }
}
