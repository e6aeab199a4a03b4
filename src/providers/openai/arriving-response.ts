/**
 * An ImagesResponse handed on while it arrives. The answer is read until its first b64_json has
 * begun: up to then any failure (status, connection, malformed start) is an ordinary attempt
 * failure the router may retry elsewhere. From then on the images' base64 flows on as events
 * and the body is never held whole. An answer that ends before any b64_json began (url answers,
 * small relays' answers, a 200 carrying an error) is parsed whole, as before.
 */
import type { ArrivingEvent, ArrivingResult, ProviderResult } from '../../core/job.js';
import { eachOnce } from '../../core/each-once.js';
import { settledGenerator } from '../../core/settled-generator.js';
import type { StreamingResponse } from '../transport.js';
import { AnswerScanner, type ItemFields } from './answer-scanner.js';
import { failureFromResponse, imageOf, parseImagesResponse, resultFieldsOf, revisedPromptOf, stringBytes } from './response.js';

/** Refuse absurd upstream answers before they exhaust memory (as a whole answer is). */
const MAX_ANSWER_BYTES = 512 * 1024 * 1024;

export async function readArrivingAnswer(res: StreamingResponse): Promise<ProviderResult | ArrivingResult> {
  const body = res.body[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  if (res.status < 200 || res.status >= 300) {
    for (let next = await body.next(); !next.done; next = await body.next()) chunks.push(next.value);
    throw failureFromResponse({ status: res.status, headers: res.headers, body: Buffer.concat(chunks) });
  }
  const scanner = new AnswerScanner(itemEvent, MAX_ANSWER_BYTES);
  const first: ArrivingEvent[] = [];
  try {
    for (;;) {
      const next = await body.next();
      if (next.done) return parseImagesResponse({ status: res.status, headers: res.headers, body: Buffer.concat(chunks), chunks });
      chunks.push(next.value);
      first.push(...scanner.feed(next.value));
      if (scanner.started) break;
    }
  } catch (err) {
    await body.return?.();
    throw err;
  }
  return { kind: 'arriving', events: restOf(first, body, scanner) };
}

function restOf(first: ArrivingEvent[], body: AsyncIterator<Buffer>, scanner: AnswerScanner): ArrivingResult['events'] {
  let ended = false;
  // Nothing here holds a chunk while the next is awaited (core/each-once.ts): the events are
  // slices of the chunks.
  async function* events(): ArrivingResult['events'] {
    yield* eachOnce(first);
    for (;;) {
      let next: IteratorResult<Buffer> | undefined = await body.next();
      if (next.done) break;
      const found = scanner.feed(next.value);
      next = undefined;
      yield* eachOnce(found);
    }
    ended = true;
    return resultFieldsOf(scanner.finish());
  }
  // Dropped early (the client left, or a failure downstream): stop reading the upstream.
  return settledGenerator(events(), async () => {
    if (!ended) await body.return?.();
  });
}

/** An item closed: a streamed one leaves its revised prompt; any other is an image (or nothing) on its own. */
function itemEvent(fields: ItemFields, streamed: boolean): ArrivingEvent {
  if (streamed) return { type: 'item-end', ...revisedPromptOf(fields) };
  const image = imageOf(fields, stringBytes);
  return image ? { type: 'item-end', image } : { type: 'item-end' };
}
