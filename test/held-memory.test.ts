/**
 * What a sync b64_json answer holds while it waits for the upstream's next chunk: none of the
 * chunks it has already passed on. With a thousand answers arriving at once, each chunk kept by a
 * stage waiting for the next (a generator's variable, an array of events, the scanner's kept
 * JSON bytes sliced from it) is a socket read of up to 64 KiB per answer in flight.
 *
 * Each test lets the first chunk through, leaves the answer waiting for the second, collects
 * garbage and asks whether the first chunk's memory is still alive. The test code itself keeps
 * no reference to the chunk (only a WeakRef): helpers that touch it return nothing of it.
 */
import { once } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { relayed } from '../src/core/each-once.js';
import { NO_INPUTS } from '../src/core/image-input.js';
import type { ArrivingResult, ImageJob } from '../src/core/job.js';
import { BUILTIN_MODELS, ModelCatalogue } from '../src/core/models.js';
import { arrivingImagesBody } from '../src/http/images-response.js';
import { deliverArriving } from '../src/output/arriving-delivery.js';
import { ImageOutput, type ImageOutputDeps } from '../src/output/image-output.js';
import type { ResultParameters } from '../src/pipeline.js';
import { readArrivingAnswer } from '../src/providers/openai/arriving-response.js';
import { HttpTransport } from '../src/providers/transport.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Whether the object has been collected, after a few turns and collections. */
async function collected(ref: WeakRef<object>): Promise<boolean> {
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  return ref.deref() === undefined;
}

/** A PNG's first bytes (signature, IHDR 1024x1024) and noise after: base64 of an image nobody decodes whole. */
function pngBase64(bytes: number): string {
  const head = Buffer.alloc(33);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(head, 0);
  head.writeUInt32BE(13, 8);
  head.write('IHDR', 12, 'latin1');
  head.writeUInt32BE(1024, 16);
  head.writeUInt32BE(1024, 20);
  head.writeUInt8(8, 24);
  head.writeUInt8(6, 25);
  const body = Buffer.alloc(bytes - head.length, 7);
  return Buffer.concat([head, body]).toString('base64');
}

/** The answer's first chunk (its own 64 KiB+ memory, not Node's shared pool), more of its base64, and its end. */
const FIRST = `{"created":1,"data":[{"b64_json":"${pngBase64(60 * 1024)}`;
const MIDDLE = 'QUJD'.repeat(16 * 1024);
const LAST = '"}],"usage":{"total_tokens":1}}';

/** An upstream body the test paces: two chunks, then the end when `release` is called. */
function pacedBody() {
  const refs: WeakRef<ArrayBuffer>[] = [];
  let release = (): void => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const tracked = (chunk: Buffer): Buffer => {
    refs.push(new WeakRef(chunk.buffer as ArrayBuffer));
    return chunk;
  };
  async function* body(): AsyncGenerator<Buffer> {
    yield tracked(Buffer.from(FIRST));
    yield tracked(Buffer.from(MIDDLE));
    await released;
    yield Buffer.from(LAST);
  }
  /** Whether the chunks handed over so far are all collected. */
  const allCollected = async (): Promise<boolean> => {
    const alive: boolean[] = [];
    for (const ref of refs) alive.push(!(await collected(ref)));
    return refs.length === 2 && !alive.includes(true);
  };
  return { body: body(), allCollected, release };
}

const MODEL = new ModelCatalogue(BUILTIN_MODELS).get('gpt-image-1');
if (!MODEL) throw new Error('gpt-image-1 is not in the catalogue');
const JOB: ImageJob = {
  id: 'req_1',
  operation: 'generate',
  model: MODEL,
  prompt: 'a pond',
  inputs: NO_INPUTS,
  n: 1,
  size: '1024x1024',
  quality: 'auto',
  responseFormat: 'b64_json',
  passthrough: {},
};

/** b64 answers not kept in storage: the delivery touches none of its dependencies. */
const UNSTORED = new ImageOutput({ keepB64Images: false } as ImageOutputDeps);

/** Pulls `count` events and drops them. */
async function pull(events: AsyncIterator<unknown>, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await events.next();
}

/** Reads the client's body until `bytes` have come, dropping them. */
async function pullBytes(body: AsyncIterator<Buffer>, bytes: number): Promise<void> {
  for (let got = 0; got < bytes; ) {
    const next = await body.next();
    if (next.done) throw new Error('the answer ended early');
    got += next.value.length;
  }
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

describe('a b64_json answer waiting for its next chunk', () => {
  it('the OpenAI answer reader keeps none of the chunks it passed on (scanner, first events, its loop)', async () => {
    const upstream = pacedBody();
    const result = (await readArrivingAnswer({ status: 200, headers: {}, body: upstream.body })) as ArrivingResult;
    await pull(result.events, 3); // b64-start, then each chunk's base64
    const rest = result.events.next();
    expect(await upstream.allCollected()).toBe(true);
    upstream.release();
    await rest;
    await result.events.return({});
  });

  it('delivery and the client body keep none of them either', async () => {
    const upstream = pacedBody();
    const arriving = (await readArrivingAnswer({ status: 200, headers: {}, body: upstream.body })) as ArrivingResult;
    const delivery = deliverArriving(UNSTORED, JOB, arriving.events, { keyId: null, signal: new AbortController().signal });
    const body = (await arrivingImagesBody({ created: 1, events: relayed(delivery, async (): Promise<ResultParameters> => ({})) }))[Symbol.asyncIterator]();
    await pullBytes(body, FIRST.length + MIDDLE.length - 16); // the answer so far: its opening, the image's start, both chunks' base64
    const rest = body.next();
    expect(await upstream.allCollected()).toBe(true);
    upstream.release();
    await rest;
    await body.return?.();
  });

  it("the transport's body keeps no chunk it handed over", async () => {
    let answer: ServerResponse | undefined;
    const server = createServer((_req, res) => {
      answer = res;
      res.writeHead(200, { 'content-type': 'application/json' });
      // Less than one socket read, so that the reader is left waiting, not handed a second chunk.
      res.write(FIRST.slice(0, 32 * 1024));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const transport = new HttpTransport();
    closers.push(async () => {
      answer?.destroy();
      await transport.close();
      server.closeAllConnections();
      server.close();
    });
    const { port } = server.address() as AddressInfo;
    const res = await transport.open({ method: 'POST', url: `http://127.0.0.1:${port}/v1/images/generations`, headers: {}, body: '{}', timeoutMs: 10_000 });
    const chunks = res.body[Symbol.asyncIterator]();
    const firstChunk = await firstChunkRef(chunks);
    const rest = chunks.next();
    expect(await collected(firstChunk)).toBe(true);
    answer?.end(LAST);
    await rest;
    await chunks.return?.();
  });
});

/** Reads one chunk and keeps only a WeakRef to its memory. */
async function firstChunkRef(chunks: AsyncIterator<Buffer>): Promise<WeakRef<ArrayBuffer>> {
  const next = await chunks.next();
  if (next.done) throw new Error('the body ended at once');
  return new WeakRef(next.value.buffer as ArrayBuffer);
}
