/**
 * One streamed multipart part -> its bytes (in memory, or written to a spool file as they
 * arrive), refused the moment it passes its own cap or the request's upload budget. The refusal
 * comes while the client is still sending: the rest of the part is never waited for.
 */
import type { MultipartFile } from '@fastify/multipart';
import type { GatewayError } from '../core/errors.js';
import { ImageHeaderScanner } from '../core/image-header.js';
import type { SpooledBytes } from '../core/input-bytes.js';
import type { MemoryHold } from '../core/memory-budget.js';
import { RequestEndedError, type RequestSpool, type SpoolFile } from '../spool/request-spool.js';

/**
 * What the images of one request may add up to, spent as their bytes arrive; each chunk kept in
 * memory is also counted against the process's memory budget (spooled chunks are not kept).
 */
export class UploadBudget {
  private spent = 0;

  constructor(
    private readonly max: number,
    private readonly exceeded: (max: number) => GatewayError,
    private readonly memory?: MemoryHold,
  ) {}

  /** `bytes` kept in memory as they arrived; `weight`: image bytes one of them stands for (3/4 for base64 text). */
  spend(bytes: number, weight: number): void {
    this.memory?.receivedBody(bytes);
    this.spendOnDisk(bytes, weight);
  }

  /** `bytes` written to a spool file: they count toward the request's total, not its memory. */
  spendOnDisk(bytes: number, weight: number): void {
    this.spent += bytes * weight;
    if (this.spent > this.max) throw this.exceeded(this.max);
  }
}

export interface PartLimit {
  /** Most bytes the part may have. */
  readonly cap: number;
  readonly tooLarge: () => GatewayError;
  /** Image bytes one byte of the part stands for: 1 for a file, 3/4 for base64 text. */
  readonly weight: number;
}

export async function readPartCapped(part: MultipartFile, limit: PartLimit, budget: UploadBudget): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of part.file as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length > limit.cap) throw limit.tooLarge();
    budget.spend(chunk.length, limit.weight);
    chunks.push(chunk);
  }
  // busboy's own limit sits past every cap here; its truncation flag is a backstop.
  if (part.file.truncated) throw limit.tooLarge();
  return Buffer.concat(chunks, length);
}

/**
 * The part written to a new file of the request's spool as it arrives, its image header scanned
 * on the way: the file is never read back to be judged. Only the chunk being written is held.
 */
export async function spoolPartCapped(part: MultipartFile, limit: PartLimit, budget: UploadBudget, spool: RequestSpool): Promise<SpooledBytes> {
  const file = await spoolFile(spool);
  const scanner = new ImageHeaderScanner();
  try {
    for await (const chunk of part.file as AsyncIterable<Buffer>) {
      if (file.size + chunk.length > limit.cap) throw limit.tooLarge();
      budget.spendOnDisk(chunk.length, limit.weight);
      spool.reserve(chunk.length);
      scanner.push(chunk);
      await written(file, chunk);
    }
  } finally {
    await file.close().catch(() => {});
  }
  if (part.file.truncated) throw limit.tooLarge();
  return { kind: 'spooled', size: file.size, path: file.path, header: scanner.finish() };
}

/** The disk failed the upload (full, unwritable): the server's fault, not the client's form. */
export class SpoolWriteError extends Error {
  constructor(cause: unknown) {
    super(`an upload could not be written to the spool: ${(cause as Error).message}`, { cause });
  }
}

async function spoolFile(spool: RequestSpool): Promise<SpoolFile> {
  try {
    return await spool.create();
  } catch (err) {
    throw err instanceof RequestEndedError ? err : new SpoolWriteError(err);
  }
}

async function written(file: SpoolFile, chunk: Buffer): Promise<void> {
  try {
    await file.write(chunk);
  } catch (err) {
    throw new SpoolWriteError(err);
  }
}
