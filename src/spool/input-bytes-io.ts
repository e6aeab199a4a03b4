/**
 * Reading input bytes that may be spooled to a file (core/input-bytes.ts): as a stream for
 * upstream bodies (a new stream each time, so retries and failovers read the file again), or
 * whole, for what needs all of them at once (task rows, JSON bodies built in memory).
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { inMemoryBytes, type InputBytes } from '../core/input-bytes.js';
import type { InputImage, ResolvedInputs } from '../core/image-input.js';

/** Pieces of a spooled file as it is read: this much at a time, whatever its size. */
const READ_PIECE_BYTES = 64 * 1024;

/** The bytes from their start, piece by piece; a spooled file is opened only when iteration begins. */
export async function* inputBytesPieces(input: InputBytes): AsyncGenerator<Buffer> {
  if (input.kind === 'memory') {
    yield input.bytes;
    return;
  }
  let read = 0;
  for await (const piece of createReadStream(input.path, { highWaterMark: READ_PIECE_BYTES }) as AsyncIterable<Buffer>) {
    read += piece.length;
    yield piece;
  }
  if (read !== input.size) throw new Error(`spool file ${input.path} holds ${read} bytes, not the ${input.size} received`);
}

/** All the bytes in one Buffer (a spooled file is read into memory). */
export async function wholeInputBytes(input: InputBytes): Promise<Buffer> {
  return input.kind === 'memory' ? input.bytes : readFile(input.path);
}

/** The inputs with every spooled file read into memory: for what outlives the request (a task's row). */
export async function inputsInMemory(inputs: ResolvedInputs): Promise<ResolvedInputs> {
  const load = async (image: InputImage): Promise<InputImage> =>
    image.bytes.kind === 'memory' ? image : { ...image, bytes: inMemoryBytes(await wholeInputBytes(image.bytes)) };
  const images = await Promise.all(inputs.images.map(load));
  return inputs.mask ? { images, mask: await load(inputs.mask) } : { images };
}
