/**
 * Where multipart uploads wait on disk (`<dataDir>/spool/`): each in a file of its own with an
 * unguessable name, readable only by this process's user. Every file belongs to one request and
 * goes when that request ends (request-spool.ts); what a crash left behind goes at start-up.
 * Answers read ahead of stalled clients wait here too, in files unlinked once open (answer-spill.ts).
 *
 * The directory belongs to one gateway process: instances must not share a data dir's spool.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { MemoryBudget } from '../core/memory-budget.js';
import { RequestSpool } from './request-spool.js';

export class SpoolDir {
  private constructor(
    readonly path: string,
    /** Bytes all requests' spool files may hold together (IMAGEGATE_SPOOL_BUDGET). */
    readonly budget: MemoryBudget,
  ) {}

  /** Creates the directory, emptied of any upload a previous process left behind. */
  static async open(path: string, budgetBytes: number): Promise<SpoolDir> {
    await rm(path, { recursive: true, force: true });
    await mkdir(path, { recursive: true, mode: 0o700 });
    // The same counting as the memory budget, of disk: accepted bytes are held until released.
    return new SpoolDir(path, new MemoryBudget(budgetBytes));
  }

  /** A fresh, unguessable file name in the directory. */
  newFilePath(suffix = '.upload'): string {
    return join(this.path, `${randomBytes(16).toString('hex')}${suffix}`);
  }

  /** The files of one request: made while it is read, all deleted when it ends. */
  forRequest(): RequestSpool {
    return new RequestSpool(this);
  }
}
