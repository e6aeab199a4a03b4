/**
 * One streamed multipart part -> its bytes, refused the moment it passes its own cap or the
 * request's upload budget. The refusal comes while the client is still sending: the rest of
 * the part is never waited for.
 */
import type { MultipartFile } from '@fastify/multipart';
import type { GatewayError } from '../core/errors.js';
import type { MemoryHold } from '../core/memory-budget.js';

/**
 * What the images of one request may add up to, spent as their bytes arrive; each chunk is
 * also counted against the process's memory budget (a chunked body has no length to reserve).
 */
export class UploadBudget {
  private spent = 0;

  constructor(
    private readonly max: number,
    private readonly exceeded: (max: number) => GatewayError,
    private readonly memory?: MemoryHold,
  ) {}

  /** `bytes` as they arrived; `weight`: image bytes one of them stands for (3/4 for base64 text). */
  spend(bytes: number, weight: number): void {
    this.memory?.receivedBody(bytes);
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
