/**
 * What every vendor's end-to-end test sets up the same way: the vendor's simulator and a channel
 * to it sharing one key, gateways whose config lists such channels, plain PNGs to send, the
 * images an answer carries, and the scenarios of a task taken over by another gateway on the same
 * database (a graceful restart, or a SIGKILLed child gateway).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type OpenAI from 'openai';
import { toFile } from 'openai';
import type { ImageEditParamsStreaming, ImageGenerateParamsStreaming } from 'openai/resources/images';
import sharp from 'sharp';
import { expect } from 'vitest';
import { adminJson, TEST_ADMIN_KEY } from './admin.js';
import { type ChildGateway, spawnGateway } from './child-gateway.js';
import { later, onCleanup } from './cleanup.js';
import { writeConfigFile } from './config-file.js';
import { newApiTask } from './async-dialects.js';
import { postJson, startGateway, type TestGateway } from './gateway.js';
import { describeImage } from './images.js';
import { recordingClient } from './recording-client.js';

/** One channel entry of a config file. */
export type ChannelEntry = Record<string, unknown>;

/** A gateway whose config file lists `channels` (and `config`'s other keys); the admin API on, tasks polled every 50 ms. */
export async function gatewayWith(channels: ChannelEntry[], env: Record<string, string> = {}, config: Record<string, unknown> = {}): Promise<TestGateway> {
  const file = await writeConfigFile({ channels, ...config });
  return later(await startGateway({ IMAGEGATE_CONFIG: file, IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY, IMAGEGATE_TASK_POLL: '50ms', ...env }));
}

export interface VendorSpec<Sim, Opts> {
  /** The channel kind. */
  kind: string;
  /** The key the simulator takes and the channel sends. */
  key: string;
  /** Starts a simulator that takes `key`, with `opts` laid over the test file's defaults. */
  start(opts: Opts): Promise<Sim>;
  /** The channel's base_url for that simulator. */
  baseUrl(sim: Sim): string;
  /** Channel fields every channel of the file has (a short poll_interval, say). */
  channel?: ChannelEntry;
}

export interface VendorKit<Sim, Opts> {
  /** A channel of the vendor's kind to `sim`, with the shared key; `extra` laid over. */
  channel(name: string, sim: Sim, extra?: ChannelEntry): ChannelEntry;
  /** A simulator, closed after the test. */
  sim(opts?: Opts): Promise<Sim>;
  /** One simulator and a gateway with one channel to it (named after the kind). */
  one(opts?: Opts, channelExtra?: ChannelEntry, env?: Record<string, string>): Promise<{ gw: TestGateway; sim: Sim }>;
}

/** The channel, simulator and one-vendor gateway of a vendor test file. */
export function vendorKit<Sim extends { close(): Promise<void> }, Opts extends object>(spec: VendorSpec<Sim, Opts>): VendorKit<Sim, Opts> {
  const channel = (name: string, sim: Sim, extra: ChannelEntry = {}): ChannelEntry => ({
    name,
    kind: spec.kind,
    base_url: spec.baseUrl(sim),
    api_key: spec.key,
    ...spec.channel,
    ...extra,
  });
  const sim = async (opts?: Opts): Promise<Sim> => later(await spec.start(opts ?? ({} as Opts)));
  return {
    channel,
    sim,
    async one(opts, channelExtra = {}, env = {}) {
      const started = await sim(opts);
      return { gw: await gatewayWith([channel(spec.kind, started, channelExtra)], env), sim: started };
    },
  };
}

/** One event of an image stream, as the SDK yields it. */
export interface ImageStreamEvent {
  type: string;
  b64_json?: string;
  size?: string;
  output_format?: string;
  usage?: unknown;
}

/** A stream through the official SDK, with its SSE text as it arrived. */
export interface SdkImageStream {
  events: ImageStreamEvent[];
  /** What the SDK threw while reading (an `error` event), if anything. */
  error?: unknown;
  /** The response as it arrived: keep-alive comments, events, an error event. */
  raw: string;
  /** Keep-alive comments before the first event. */
  keepAlivesFirst: number;
}

/** Opens a stream with the official SDK (`open`: generate or edit with `stream: true`) and reads it to its end. */
export async function sdkImageStream(gw: Pick<TestGateway, 'apiKey' | 'baseURL'>, open: (client: OpenAI) => Promise<unknown>): Promise<SdkImageStream> {
  const { client, last } = recordingClient(gw);
  const events: ImageStreamEvent[] = [];
  let error: unknown;
  try {
    for await (const event of (await open(client)) as AsyncIterable<ImageStreamEvent>) events.push(event);
  } catch (err) {
    error = err;
  }
  const raw = last().text;
  const firstEvent = raw.indexOf('event: ');
  const keepAlivesFirst = (firstEvent === -1 ? raw : raw.slice(0, firstEvent)).split(': keep-alive\n\n').length - 1;
  return { events, ...(error !== undefined ? { error } : {}), raw, keepAlivesFirst };
}

/** A streamed generation's fields; any size (the vendors' sizes are outside the SDK's list). */
export type StreamedGeneration = Omit<ImageGenerateParamsStreaming, 'stream' | 'size'> & { size?: string };

/** A streamed edit's fields, its image (and mask) as PNG bytes. */
export type StreamedEdit = Omit<ImageEditParamsStreaming, 'stream' | 'image' | 'mask'> & { image: Buffer; mask?: Buffer };

/** A generation streamed through the official SDK (sdkImageStream). */
export function sdkGenerationStream(gw: Pick<TestGateway, 'apiKey' | 'baseURL'>, body: StreamedGeneration): Promise<SdkImageStream> {
  return sdkImageStream(gw, (client) => client.images.generate({ ...body, stream: true } as ImageGenerateParamsStreaming));
}

/** An edit streamed through the official SDK (sdkImageStream). */
export function sdkEditStream(gw: Pick<TestGateway, 'apiKey' | 'baseURL'>, { image, mask, ...body }: StreamedEdit): Promise<SdkImageStream> {
  const png = (bytes: Buffer, name: string) => toFile(bytes, name, { type: 'image/png' });
  return sdkImageStream(gw, async (client) =>
    client.images.edit({ ...body, image: await png(image, 'image.png'), ...(mask ? { mask: await png(mask, 'mask.png') } : {}), stream: true }),
  );
}

/** What base64 image data decodes to. */
export const describeBase64 = (b64: string | undefined) => describeImage(Buffer.from(b64 ?? '', 'base64'));

/** What keptAliveThenCompleted expects of a stream's completed events. */
export interface CompletedImages {
  type: 'image_generation.completed' | 'image_edit.completed';
  /** One event per image; 1 unless said. */
  count?: number;
  /** The size asked: each event reports it, and its image decodes to it. */
  size?: `${number}x${number}`;
  /** What each image decodes to where the event's size is not checked (an edit in the input's shape). */
  decodesTo?: { width: number; height: number };
  /** The format each event must name; either way its image decodes to the format it names. */
  format?: string;
}

/**
 * A stream with no error, keep-alive comments before its first event, then `count` completed
 * events of `type`, each image decoding to the size asked in the format its event names. Its events.
 */
export async function keptAliveThenCompleted(stream: SdkImageStream, expected: CompletedImages): Promise<ImageStreamEvent[]> {
  expect(stream.error).toBeUndefined();
  expect(stream.keepAlivesFirst).toBeGreaterThanOrEqual(1);
  expect(stream.events.map((e) => e.type)).toEqual(Array(expected.count ?? 1).fill(expected.type));
  const [width, height] = expected.size ? expected.size.split('x').map(Number) : [expected.decodesTo?.width, expected.decodesTo?.height];
  for (const event of stream.events) {
    if (expected.size) expect(event.size).toBe(expected.size);
    if (expected.format) expect(event.output_format).toBe(expected.format);
    const image = await describeBase64(event.b64_json);
    expect(image.format).toBe(event.output_format);
    if (width !== undefined) expect(image).toEqual({ format: event.output_format, width, height });
  }
  return stream.events;
}

/**
 * A refusal after the stream opened (`body`: a generation the vendor refuses), on a new key
 * metered with 1 credit: keep-alive comments first, no image, the SDK's error and the raw error
 * event content_policy_violation, one submission upstream (`submissions`: what the vendor counts),
 * and the key's balance whole again.
 */
export async function streamRefusedAndRefunded(
  gw: Pick<TestGateway, 'origin' | 'baseURL'>,
  body: StreamedGeneration,
  submissions: () => number,
): Promise<void> {
  const created = await adminJson(gw.origin, 'POST', '/admin/api/keys', { name: 'metered', credits: 1 });
  const stream = await sdkGenerationStream({ ...gw, apiKey: String(created.key) }, body);
  expect(stream.keepAlivesFirst).toBeGreaterThanOrEqual(1);
  expect(stream.events).toEqual([]);
  expect(stream.error).toMatchObject({ code: 'content_policy_violation' });
  expect(stream.raw).toMatch(/event: error\ndata: \{"type":"error","error":\{/);
  const data = /event: error\ndata: (.*)\n/.exec(stream.raw)?.[1];
  expect(JSON.parse(data ?? '{}')).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', code: 'content_policy_violation' } });
  expect(submissions()).toBe(1);
  const balance = async () => Number((await adminJson(gw.origin, 'GET', `/admin/api/keys/${String(created.id)}`)).balance_micros);
  await expect.poll(balance, { timeout: 5_000 }).toBe(1_000_000);
}

/** A streamed generation asking partial_images (in `body`) is a 400 naming partial_images, and nothing more reaches the vendor (`submissions`: what it counts). */
export async function partialImagesRefused(gw: TestGateway, body: Record<string, unknown>, submissions: () => number): Promise<void> {
  const before = submissions();
  const res = await postJson(gw, '/v1/images/generations', { stream: true, ...body });
  expect(res.status).toBe(400);
  expect(res.json).toMatchObject({ error: { param: 'partial_images' } });
  expect(submissions()).toBe(before);
}

/** What the image at `url` (a gateway's link, a vendor's hosted file) decodes to. */
export async function describeImageAt(url: string | undefined) {
  const res = await fetch(url ?? '');
  return describeImage(Buffer.from(await res.arrayBuffer()));
}

/** A PNG of one colour: RGB, or RGBA with `channels` 4 (a colour such as '#3338' keeps its alpha). */
export async function plainPng(width: number, height: number, colour = '#3a7', channels: 3 | 4 = 3): Promise<Buffer> {
  return sharp({ create: { width, height, channels, background: colour } })
    .png()
    .toBuffer();
}

/** A fully transparent PNG: a well-formed mask that edits everywhere. */
export async function clearPng(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
    .png()
    .toBuffer();
}

/** OpenAI's mask: transparent on the left half (edit there), opaque on the right. */
export async function leftHalfMask(width: number, height: number): Promise<Buffer> {
  const rgba = Buffer.alloc(width * height * 4);
  for (let i = 0; i < width * height; i++) rgba[i * 4 + 3] = i % width < width / 2 ? 0 : 255;
  return sharp(rgba, { raw: { width, height, channels: 4 } })
    .png()
    .toBuffer();
}

/** The message of an error envelope. */
export const errorMessage = (res: { json?: Record<string, unknown> | undefined }) => String((res.json?.error as { message?: unknown } | undefined)?.message);

/** A channel as the admin API lists it: whether it, or which of its keys, was disabled, and why. */
export interface ListedChannel {
  name: string;
  disabled_reason: string | null;
  api_keys: { disabled_reason: string | null }[];
}

/** The channels the admin API lists. */
export async function listedChannels(gw: TestGateway): Promise<ListedChannel[]> {
  return (await adminJson(gw.origin, 'GET', '/admin/api/channels')).data as ListedChannel[];
}

/** Why the channel (or its first key) was disabled, as the admin API lists it; null when neither is. */
export async function disabledReason(gw: TestGateway, channelName: string): Promise<string | null> {
  const channel = (await listedChannels(gw)).find((c) => c.name === channelName);
  return channel?.disabled_reason ?? channel?.api_keys[0]?.disabled_reason ?? null;
}

/** Submits a generation in new-api's async dialect; its task id. */
export async function submitNewApiTask(gw: Pick<TestGateway, 'origin' | 'apiKey'>, body: Record<string, unknown>): Promise<string> {
  const submitted = await postJson(gw as TestGateway, '/v1/images/generations', body, { 'x-new-api-async-task': 'true' });
  return String((submitted.json?.data as { task_id: string }).task_id);
}

/** The upstream job id a task stored ('' until it has one). */
export async function storedUpstreamId(origin: string, taskId: string): Promise<string> {
  return String((await adminJson(origin, 'GET', `/admin/api/tasks/${taskId}`)).upstream_task_id ?? '');
}

/**
 * The environment of gateways that take over one another's database: a data directory of their
 * own (removed after the test) and a config listing `channels`; the admin API on, tasks polled
 * every 50 ms unless `env` says otherwise.
 */
export async function sharedDatabaseEnv(channels: ChannelEntry[], env: Record<string, string> = {}): Promise<Record<string, string>> {
  const dataDir = await mkdtemp(join(tmpdir(), 'imagegate-vendor-restart-'));
  onCleanup(() => rm(dataDir, { recursive: true, force: true }));
  const config = await writeConfigFile({ channels });
  return { IMAGEGATE_CONFIG: config, IMAGEGATE_DATA_DIR: dataDir, IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY, IMAGEGATE_TASK_POLL: '50ms', ...env };
}

/** A run of child gateways (the real CLI) on one database, each SIGKILLed like a crash, the next started in its place. */
export interface CrashingGateways {
  /** The child now running. */
  readonly current: ChildGateway;
  /** The client key created on the first start, and its id. */
  readonly apiKey: string;
  readonly keyId: string;
  /** A caller of the current child with that key (origin, baseURL, apiKey). */
  caller(): TestGateway;
  /** SIGKILLs the current child and waits for it to exit. */
  kill(): Promise<void>;
  /** Starts the next child on the same database. */
  restart(): Promise<void>;
}

/**
 * Child gateways on `channels` and a database of their own; task leases of 2 s so a killed
 * child's task is taken over soon, tasks polled every 200 ms unless `env` says otherwise.
 * `key` is the admin API's body for the client key.
 */
export async function crashingGateways(channels: ChannelEntry[], key: Record<string, unknown>, env: Record<string, string> = {}): Promise<CrashingGateways> {
  const sharedEnv = await sharedDatabaseEnv(channels, { IMAGEGATE_TASK_LEASE: '2s', IMAGEGATE_TASK_POLL: '200ms', ...env });
  let current = await spawnGateway(sharedEnv);
  onCleanup(() => current.stop());
  const created = await adminJson(current.origin, 'POST', '/admin/api/keys', key);
  const apiKey = String(created.key);
  return {
    get current() {
      return current;
    },
    apiKey,
    keyId: String(created.id),
    caller: () => ({ origin: current.origin, baseURL: `${current.origin}/v1`, apiKey }) as TestGateway,
    async kill() {
      const exited = new Promise((resolve) => current.child.once('exit', resolve));
      current.child.kill('SIGKILL');
      await exited;
    },
    async restart() {
      current = await spawnGateway(sharedEnv);
    },
  };
}

/** Waits until `count()` has grown past what it is now by more than `by` (an upstream's polls, say). */
export async function grows(count: () => number, by = 0, timeout = 30_000): Promise<void> {
  const before = count();
  await expect.poll(count, { timeout }).toBeGreaterThan(before + by);
}

/** What refusedKeyScenario is told about the vendor. */
export interface RefusedKeyCase<Sim, Opts> {
  /** Options of a simulator that expects another key, so it refuses the channel's (401). */
  refusing: Opts;
  /** The model asked first, and (when another) the one asked again. */
  model: string;
  againModel?: string;
  /** The refused channel's name (its admin listing names it). */
  name?: string;
  /** What the good simulator counts as served: 1 after the first request. */
  served(sim: Sim): number;
  /** What the refusing simulator received: unchanged by the second request. */
  asked(sim: Sim): number;
}

/**
 * A channel whose key the vendor refuses, tried first, beside a good one: the good one serves,
 * the refused key is disabled with the 401 in its reason, and the next request never reaches it.
 */
export async function refusedKeyScenario<Sim extends { close(): Promise<void> }, Opts extends object>(
  kit: VendorKit<Sim, Opts>,
  c: RefusedKeyCase<Sim, Opts>,
): Promise<{ gw: TestGateway; refusing: Sim; good: Sim }> {
  const name = c.name ?? 'wrong-key';
  const refusing = await kit.sim(c.refusing);
  const good = await kit.sim();
  const gw = await gatewayWith([kit.channel(name, refusing, { priority: 10 }), kit.channel('good', good)]);
  await gw.client.images.generate({ model: c.model, prompt: 'a harbour' });
  expect(c.served(good)).toBe(1);
  expect(await disabledReason(gw, name)).toMatch(/401/);
  const before = c.asked(refusing);
  await gw.client.images.generate({ model: c.againModel ?? c.model, prompt: 'again' });
  expect(c.asked(refusing)).toBe(before);
  return { gw, refusing, good };
}

/** POST /v1/images/edits as a raw multipart form (PNG files by field name), for what the SDK would not send: the status and the JSON answer. */
export async function postEditForm(gw: TestGateway, fields: Record<string, string>, pngs: Record<string, Buffer>) {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  for (const [name, bytes] of Object.entries(pngs)) form.append(name, new Blob([bytes], { type: 'image/png' }), `${name}.png`);
  const res = await fetch(`${gw.baseURL}/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${gw.apiKey}` }, body: form });
  return { status: res.status, json: (await res.json()) as { error?: Record<string, unknown> } };
}

/** A vendor simulator whose tasks a test can hold, and what it counts. */
export interface HoldingUpstream {
  sim: { hold(): void; release(): void; polls: number; submits: number };
}

/**
 * One task across a SIGKILL: submitted in new-api's dialect while `upstream` holds it; once the
 * gateway has stored its upstream id and polled, it is killed (one submission so far), the
 * upstream released and the next gateway started, where the task is polled to its end. What the
 * test asserts of the resumed run: the task's view, the stored id, the polls before the restart.
 */
export async function resumedAfterCrash(gateways: CrashingGateways, upstream: HoldingUpstream, body: Record<string, unknown>, storedWithinMs = 30_000) {
  upstream.sim.hold();
  const id = await submitNewApiTask(gateways.caller(), body);
  await expect.poll(() => storedUpstreamId(gateways.current.origin, id), { timeout: storedWithinMs }).toBeTruthy();
  const storedId = await storedUpstreamId(gateways.current.origin, id);
  await expect.poll(() => upstream.sim.polls, { timeout: 30_000 }).toBeGreaterThan(0);
  await gateways.kill();
  expect(upstream.sim.submits).toBe(1);
  upstream.sim.release();
  const pollsBefore = upstream.sim.polls;
  await gateways.restart();
  const view = await newApiTask(gateways.caller(), id, gateways.apiKey, 2_400);
  return { view, storedId, pollsBefore };
}
