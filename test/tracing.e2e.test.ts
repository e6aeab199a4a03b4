/**
 * Traces (OpenTelemetry), end to end: the real gateway on port 0 with an in-memory exporter (the
 * app's traceExporter seam), called with the official SDK against the OpenAI simulator; then the
 * environment's path in child processes: off by default (no OpenTelemetry SDK module loaded, no
 * traceparent sent), and an OTLP exporter posting to a local receiver from OTEL_* variables alone.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import OpenAI from 'openai';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { startNewApiAsyncSimulator } from '../sim/newapi-async.js';
import { startOpenAISimulator, type RunningSimulator } from '../sim/openai/simulator.js';
import { createApp, type App } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { readTracingSettings } from '../src/tracing/settings.js';
import { spawnGateway } from './helpers/child-gateway.js';
import { closeAfterEach, later, onCleanup } from './helpers/cleanup.js';
import { importedPackages, importWatchOptions } from './helpers/import-watch.js';
import { relayChannel, writeConfigFile } from './helpers/config-file.js';

closeAfterEach();

/** Spans end after the answer (the request line, a task run, a webhook): a busy machine may take seconds. */
const POLL = { timeout: 20_000 };

interface TracedGateway {
  app: App;
  client: OpenAI;
  exporter: InMemorySpanExporter;
}

const relay = (name: string, sim: RunningSimulator, extra: Record<string, unknown> = {}) => relayChannel(name, sim.baseURL, extra);

async function tracedGateway(channels: Record<string, unknown>[], env: Record<string, string> = {}): Promise<TracedGateway> {
  const dataDir = await mkdtemp(join(tmpdir(), 'imagegate-tracing-'));
  onCleanup(() => rm(dataDir, { recursive: true, force: true }));
  const file = await writeConfigFile({ channels });
  const config = loadConfig({ PORT: '0', IMAGEGATE_DATA_DIR: dataDir, IMAGEGATE_DEMO_DELAY: '0', IMAGEGATE_CONFIG: file, ...env });
  const exporter = new InMemorySpanExporter();
  const app = later(await createApp(config, { logger: pino({ level: 'silent' }), traceExporter: exporter }));
  const origin = await app.listen();
  const { key } = await app.keys.create('tracing');
  return { app, exporter, client: new OpenAI({ apiKey: key, baseURL: `${origin}/v1`, maxRetries: 0, timeout: 30_000 }) };
}

/** The request's server span, once its log line (and so the span) has ended. */
async function serverSpan(exporter: InMemorySpanExporter, requestId: string): Promise<ReadableSpan> {
  let found: ReadableSpan | undefined;
  await expect
    .poll(() => {
      found = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER && s.attributes['imagegate.request_id'] === requestId);
      return found;
    }, POLL)
    .toBeDefined();
  return found as ReadableSpan;
}

const traceOf = (exporter: InMemorySpanExporter, span: ReadableSpan) =>
  exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === span.spanContext().traceId);
const childrenOf = (spans: readonly ReadableSpan[], parent: ReadableSpan) => spans.filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId);
const named = (spans: readonly ReadableSpan[], name: string) => spans.filter((s) => s.name === name);

/** `00-<trace id>-<span id>-<flags>`: the W3C header's fields. */
function traceparentFields(header: string | undefined): { traceId: string; spanId: string } {
  const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/.exec(header ?? '');
  if (!match) throw new Error(`not a traceparent: ${String(header)}`);
  return { traceId: match[1] as string, spanId: match[2] as string };
}

describe('tracing on (an in-memory exporter)', () => {
  it('a generation is one trace: the server span, its attempt, the upstream call (carrying traceparent) and the image stored', async () => {
    const upstream = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const gw = await tracedGateway([relay('alpha', upstream)]);
    const { data, response } = await gw.client.images
      .generate({ model: 'dall-e-2', prompt: 'a traced fox', size: '256x256', response_format: 'url' })
      .withResponse();
    expect(data.data?.[0]?.url).toBeDefined();
    const requestId = response.headers.get('x-request-id') ?? '';
    const server = await serverSpan(gw.exporter, requestId);

    expect(server.name).toBe('POST /v1/images/generations');
    expect(server.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/v1/images/generations',
      'http.response.status_code': 200,
      'imagegate.model': 'dall-e-2',
      'imagegate.delivered': 1,
      'imagegate.attempts': 1,
    });
    expect(String(server.attributes['imagegate.key_prefix'])).not.toBe('');
    expect(server.attributes['imagegate.prompt']).toBeUndefined();
    expect(server.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(server.parentSpanContext).toBeUndefined();
    expect(server.resource.attributes['service.name']).toBe('imagegate');

    const trace = traceOf(gw.exporter, server);
    const [attempt, ...moreAttempts] = childrenOf(trace, server).filter((s) => s.name === 'imagegate.attempt');
    expect(moreAttempts).toEqual([]);
    expect(attempt?.attributes).toMatchObject({
      'imagegate.channel.name': 'alpha',
      'imagegate.channel.kind': 'openai-compatible',
      'imagegate.attempt.number': 1,
      'imagegate.attempt.outcome': 'ok',
    });
    expect(attempt?.attributes['imagegate.attempt.failover_reason']).toBeUndefined();

    const calls = childrenOf(trace, attempt as ReadableSpan).filter((s) => s.kind === SpanKind.CLIENT);
    expect(calls).toHaveLength(1);
    const call = calls[0] as ReadableSpan;
    expect(call.name).toBe('POST');
    expect(call.attributes).toMatchObject({
      'server.address': '127.0.0.1',
      'server.port': upstream.port,
      'url.path': '/v1/images/generations',
      'http.response.status_code': 200,
    });
    expect(Number(call.attributes['http.response.body.size'])).toBeGreaterThan(100);

    // url answers store each image within the attempt.
    const stores = named(trace, 'imagegate.store');
    expect(stores).toHaveLength(1);
    expect(stores[0]?.parentSpanContext?.spanId).toBe(attempt?.spanContext().spanId);
    expect(stores[0]?.attributes).toMatchObject({ 'imagegate.store.kind': 'file', 'imagegate.image.mime': 'image/png' });
    expect(Number(stores[0]?.attributes['imagegate.image.bytes'])).toBeGreaterThan(100);

    // The upstream heard the trace: its traceparent names this trace and the client span as its parent.
    const sent = traceparentFields(upstream.sim.requests[0]?.headers.traceparent);
    expect(sent).toEqual({ traceId: server.spanContext().traceId, spanId: call.spanContext().spanId });
  });

  it('a passed-through b64_json answer: the image stored as it arrives is in the request trace too', async () => {
    const upstream = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const gw = await tracedGateway([relay('alpha', upstream)]);
    const { data, response } = await gw.client.images
      .generate({ model: 'gpt-image-1', prompt: 'a streamed heron', size: '1024x1024', quality: 'low', response_format: 'b64_json' })
      .withResponse();
    expect(data.data?.[0]?.b64_json).toBeDefined();
    const server = await serverSpan(gw.exporter, response.headers.get('x-request-id') ?? '');
    // Stored after the answer went out (in the background): polled for.
    await expect.poll(() => named(traceOf(gw.exporter, server), 'imagegate.store').length, POLL).toBe(1);
    const trace = traceOf(gw.exporter, server);
    const [attempt] = named(trace, 'imagegate.attempt');
    expect(attempt?.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
    expect(childrenOf(trace, attempt as ReadableSpan).filter((s) => s.kind === SpanKind.CLIENT)).toHaveLength(1);
    const store = named(trace, 'imagegate.store')[0] as ReadableSpan;
    expect(store.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
    expect(Number(store.attributes['imagegate.image.bytes'])).toBeGreaterThan(100);
    expect(store.status.code).not.toBe(SpanStatusCode.ERROR);
  });

  it('a failover: two attempt spans, the first failed with its outcome, the second ok and saying why it was tried', async () => {
    const failing = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const serving = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const gw = await tracedGateway([relay('first', failing, { priority: 10 }), relay('second', serving)]);
    failing.sim.enqueueFault({ kind: 'status', status: 500 });
    const { response } = await gw.client.images
      .generate({ model: 'dall-e-2', prompt: 'fail over, traced', size: '256x256', response_format: 'url' })
      .withResponse();
    const server = await serverSpan(gw.exporter, response.headers.get('x-request-id') ?? '');
    expect(server.attributes['imagegate.attempts']).toBe(2);
    const trace = traceOf(gw.exporter, server);
    const attempts = childrenOf(trace, server)
      .filter((s) => s.name === 'imagegate.attempt')
      .sort((a, b) => Number(a.attributes['imagegate.attempt.number']) - Number(b.attributes['imagegate.attempt.number']));
    expect(attempts.map((a) => [a.attributes['imagegate.channel.name'], a.attributes['imagegate.attempt.outcome']])).toEqual([
      ['first', 'http_500'],
      ['second', 'ok'],
    ]);
    const [failed, served] = attempts as [ReadableSpan, ReadableSpan];
    expect(failed.status.code).toBe(SpanStatusCode.ERROR);
    expect(failed.attributes['error.type']).toBe('http_500');
    expect(served.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(served.attributes['imagegate.attempt.failover_reason']).toBe('http_500');
    // Each attempt's own upstream call, the failed one answering 500.
    const failedCall = childrenOf(trace, failed).find((s) => s.kind === SpanKind.CLIENT);
    expect(failedCall?.attributes['http.response.status_code']).toBe(500);
    expect(failedCall?.status.code).toBe(SpanStatusCode.ERROR);
    expect(childrenOf(trace, served).filter((s) => s.kind === SpanKind.CLIENT)).toHaveLength(1);
    // The request succeeded: its own span is not an error.
    expect(server.status.code).not.toBe(SpanStatusCode.ERROR);
  });

  it("an incoming traceparent is continued: the caller's trace id, its span as the parent, and the upstream hears the same trace", async () => {
    const upstream = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const gw = await tracedGateway([relay('alpha', upstream)]);
    const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpan = '00f067aa0ba902b7';
    const { response } = await gw.client.images
      .generate(
        { model: 'dall-e-2', prompt: 'a continued trace', size: '256x256', response_format: 'url' },
        { headers: { traceparent: `00-${callerTrace}-${callerSpan}-01` } },
      )
      .withResponse();
    const server = await serverSpan(gw.exporter, response.headers.get('x-request-id') ?? '');
    expect(server.spanContext().traceId).toBe(callerTrace);
    expect(server.parentSpanContext?.spanId).toBe(callerSpan);
    expect(server.parentSpanContext?.isRemote).toBe(true);
    expect(traceparentFields(upstream.sim.requests[0]?.headers.traceparent).traceId).toBe(callerTrace);
  });

  it("a refused request's span is an error carrying the gateway's code, and no upstream was called", async () => {
    const upstream = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const gw = await tracedGateway([relay('alpha', upstream)]);
    const refusal = await gw.client.images.generate({ model: 'dall-e-2', prompt: 'too big', size: '4096x4096' as '256x256' }).catch((err: unknown) => err);
    expect(refusal).toBeInstanceOf(OpenAI.BadRequestError);
    const { code, headers } = refusal as InstanceType<typeof OpenAI.BadRequestError>;
    expect(code).toBeTruthy();
    const server = await serverSpan(gw.exporter, headers?.get('x-request-id') ?? '');
    expect(server.status.code).toBe(SpanStatusCode.ERROR);
    expect(server.attributes['error.type']).toBe(code);
    expect(server.attributes['http.response.status_code']).toBe(400);
    expect(named(traceOf(gw.exporter, server), 'imagegate.attempt')).toEqual([]);
    expect(upstream.sim.requests).toEqual([]);
  });

  it('an async task: its run is a span of its own (consumer) linked to the submitting request, with the attempt and upstream call beneath it and how the task ended; its webhook a client span', async () => {
    const upstream = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const receiver = createServer((req, res) => req.resume().on('end', () => res.writeHead(204).end()));
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    onCleanup(() => new Promise<void>((resolve) => receiver.close(() => resolve())));
    const callback = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook?token=secret`;
    const gw = await tracedGateway([relay('alpha', upstream)], { IMAGEGATE_ALLOW_PRIVATE_URLS: '127.0.0.1', IMAGEGATE_TASK_POLL: '50ms' });
    const submitted = await gw.client.post<{ data: { task_id: string } }>('/images/generations', {
      body: { model: 'dall-e-2', prompt: 'a task, traced', size: '256x256', callback_url: callback },
      headers: { 'x-new-api-async-task': 'true' },
    });
    const taskId = submitted.data.task_id;
    let run: ReadableSpan | undefined;
    await expect
      .poll(() => {
        run = gw.exporter.getFinishedSpans().find((s) => s.name === 'imagegate.task' && s.attributes['imagegate.task.id'] === taskId);
        return run;
      }, POLL)
      .toBeDefined();
    const task = run as ReadableSpan;
    expect(task.kind).toBe(SpanKind.CONSUMER);
    expect(task.attributes).toMatchObject({ 'imagegate.model': 'dall-e-2', 'imagegate.task.status': 'succeeded', 'imagegate.task.run': 1 });
    expect(task.status.code).not.toBe(SpanStatusCode.ERROR);
    const trace = traceOf(gw.exporter, task);
    const [attempt] = childrenOf(trace, task).filter((s) => s.name === 'imagegate.attempt');
    expect(attempt?.attributes['imagegate.channel.name']).toBe('alpha');
    const call = childrenOf(trace, attempt as ReadableSpan).find((s) => s.kind === SpanKind.CLIENT);
    expect(traceparentFields(upstream.sim.requests[0]?.headers.traceparent)).toEqual({
      traceId: task.spanContext().traceId,
      spanId: call?.spanContext().spanId,
    });
    // The submitting request is a trace of its own, which the run links to.
    const submit = gw.exporter.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER && s.attributes['http.route'] === '/v1/images/generations');
    expect(submit?.attributes['http.response.status_code']).toBe(200);
    expect(task.spanContext().traceId).not.toBe(submit?.spanContext().traceId);
    expect(task.links.map((l) => [l.context.traceId, l.context.spanId])).toEqual([[submit?.spanContext().traceId, submit?.spanContext().spanId]]);
    let hook: ReadableSpan | undefined;
    await expect
      .poll(() => {
        hook = gw.exporter.getFinishedSpans().find((s) => s.name === 'imagegate.webhook' && s.attributes['imagegate.task.id'] === taskId);
        return hook;
      }, POLL)
      .toBeDefined();
    expect(hook?.kind).toBe(SpanKind.CLIENT);
    expect(hook?.attributes).toMatchObject({
      'imagegate.webhook.host': `127.0.0.1:${(receiver.address() as AddressInfo).port}`,
      'http.response.status_code': 204,
      'imagegate.webhook.attempt': 1,
    });
    expect(hook?.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(JSON.stringify(hook?.attributes)).not.toContain('secret');
  });

  it("a task resumed after a restart: its run's attempt span says so, and polls the upstream task without submitting it again", async () => {
    const upstream = later(await startNewApiAsyncSimulator({ apiKey: 'nk', taskDurationMs: 3_000 }));
    const dataDir = await mkdtemp(join(tmpdir(), 'imagegate-tracing-resume-'));
    onCleanup(() => rm(dataDir, { recursive: true, force: true }));
    const channels = [{ name: 'async', kind: 'newapi-async', base_url: `${upstream.origin}/v1`, api_key: 'nk', poll_interval: 0.2 }];
    const env = { IMAGEGATE_DATA_DIR: dataDir, IMAGEGATE_TASK_POLL: '50ms' };
    const first = await tracedGateway(channels, env);
    const submitted = await first.client.post<{ data: { task_id: string } }>('/images/generations', {
      body: { model: 'dall-e-2', prompt: 'a resumed task', size: '256x256' },
      headers: { 'x-new-api-async-task': 'true' },
    });
    const taskId = submitted.data.task_id;
    const stored = () => first.app.database.db.selectFrom('tasks').select('upstream_task_id').where('id', '=', taskId).executeTakeFirst();
    await expect.poll(async () => (await stored())?.upstream_task_id, POLL).toBeTruthy();
    await first.app.close();

    const second = await tracedGateway(channels, env);
    let run: ReadableSpan | undefined;
    await expect
      .poll(() => {
        run = second.exporter.getFinishedSpans().find((s) => s.name === 'imagegate.task' && s.attributes['imagegate.task.id'] === taskId);
        return run;
      }, POLL)
      .toBeDefined();
    expect(run?.attributes).toMatchObject({ 'imagegate.task.status': 'succeeded', 'imagegate.task.run': 2 });
    const trace = traceOf(second.exporter, run as ReadableSpan);
    const attempts = childrenOf(trace, run as ReadableSpan).filter((s) => s.name === 'imagegate.attempt');
    expect(
      attempts.map((a) => [a.attributes['imagegate.channel.name'], a.attributes['imagegate.attempt.resumed'], a.attributes['imagegate.attempt.outcome']]),
    ).toEqual([['async', true, 'ok']]);
    const polls = childrenOf(trace, attempts[0] as ReadableSpan).filter((s) => s.kind === SpanKind.CLIENT);
    expect(polls.length).toBeGreaterThan(0);
    expect(polls.every((p) => p.attributes['http.request.method'] === 'GET')).toBe(true);
    expect(upstream.sim.submits).toBe(1);
  });

  it('the prompt is on the server span only with IMAGEGATE_LOG_PROMPTS=true', async () => {
    const upstream = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const gw = await tracedGateway([relay('alpha', upstream)], { IMAGEGATE_LOG_PROMPTS: 'true' });
    const { response } = await gw.client.images
      .generate({ model: 'dall-e-2', prompt: 'a logged prompt', size: '256x256', response_format: 'url' })
      .withResponse();
    const server = await serverSpan(gw.exporter, response.headers.get('x-request-id') ?? '');
    expect(server.attributes['imagegate.prompt']).toBe('a logged prompt');
  });
});

describe('tracing settings (the standard OTEL_* variables)', () => {
  it.each([
    [{}, []],
    [{ OTEL_TRACES_EXPORTER: 'otlp' }, ['otlp']],
    [{ OTEL_TRACES_EXPORTER: 'console' }, ['console']],
    [{ OTEL_TRACES_EXPORTER: 'otlp, console' }, ['otlp', 'console']],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, ['otlp']],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }, ['otlp']],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' }, []],
    [{ OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'true' }, []],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'TRUE' }, []],
  ] as const)('%j: exporters %j', (env, exporters) => {
    expect(readTracingSettings(env).exporters).toEqual(exporters);
  });

  it('OTLP over HTTP: protobuf by default, JSON when asked; gRPC and unknown exporters fail the start', () => {
    expect(readTracingSettings({ OTEL_TRACES_EXPORTER: 'otlp' }).protocol).toBe('http/protobuf');
    expect(readTracingSettings({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).protocol).toBe('http/json');
    expect(
      readTracingSettings({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' }).protocol,
    ).toBe('http/json');
    expect(() => loadConfig({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(/OTEL_EXPORTER_OTLP_PROTOCOL.*grpc/);
    expect(() => loadConfig({ OTEL_TRACES_EXPORTER: 'zipkin' })).toThrow(/OTEL_TRACES_EXPORTER.*zipkin/);
    // Tracing off: another service's gRPC setting in a shared environment does not matter.
    expect(loadConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }).tracing.exporters).toEqual([]);
  });
});

const otelImports = (output: string) => importedPackages(output).filter((p) => p.startsWith('@opentelemetry/'));

/** A child gateway with one channel on `upstream`, a client key, and the module watch. */
async function childGateway(upstream: RunningSimulator, env: Record<string, string>) {
  const dataDir = await mkdtemp(join(tmpdir(), 'imagegate-tracing-child-'));
  onCleanup(() => rm(dataDir, { recursive: true, force: true }));
  const config = await writeConfigFile({ channels: [relay('alpha', upstream)] });
  const key = 'sk-tracing-child-key';
  const gateway = await spawnGateway({
    IMAGEGATE_CONFIG: config,
    IMAGEGATE_DATA_DIR: dataDir,
    IMAGEGATE_API_KEYS: key,
    NODE_OPTIONS: await importWatchOptions(),
    // The parent's own OpenTelemetry settings, if any, stay out of it.
    OTEL_TRACES_EXPORTER: '',
    OTEL_EXPORTER_OTLP_ENDPOINT: '',
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '',
    OTEL_SDK_DISABLED: '',
    ...env,
  });
  onCleanup(() => gateway.stop());
  const client = new OpenAI({ apiKey: key, baseURL: `${gateway.origin}/v1`, maxRetries: 0, timeout: 60_000 });
  return { gateway, client };
}

describe('tracing from the environment (child gateways)', () => {
  it('off by default: no OpenTelemetry SDK module is imported and upstream calls carry no traceparent', async () => {
    const upstream = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const { gateway, client } = await childGateway(upstream, {});
    await client.images.generate({ model: 'dall-e-2', prompt: 'untraced', size: '256x256', response_format: 'url' });
    await gateway.stop();
    expect(upstream.sim.requests).toHaveLength(1);
    expect(upstream.sim.requests[0]?.headers.traceparent).toBeUndefined();
    expect(otelImports(gateway.output())).toEqual([]);
  }, 120_000);

  it('OTEL_EXPORTER_OTLP_ENDPOINT alone turns it on: spans are posted over OTLP/HTTP (protobuf), flushed at the stop', async () => {
    const received: { path: string; contentType: string | undefined; body: Buffer }[] = [];
    const receiver = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ path: req.url ?? '', contentType: req.headers['content-type'], body: Buffer.concat(chunks) });
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    onCleanup(() => new Promise<void>((resolve) => receiver.close(() => resolve())));
    const endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

    const upstream = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const { gateway, client } = await childGateway(upstream, {
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_SERVICE_NAME: 'imagegate-otlp-test',
      // No batch goes out on its timer within the test: only the stop sequence's flush sends them.
      OTEL_BSP_SCHEDULE_DELAY: '600000',
    });
    await client.images.generate({ model: 'dall-e-2', prompt: 'exported', size: '256x256', response_format: 'url' });
    expect(received).toEqual([]);
    await gateway.stop();

    expect(otelImports(gateway.output())).toEqual(expect.arrayContaining(['@opentelemetry/sdk-trace-base', '@opentelemetry/exporter-trace-otlp-proto']));
    const traceparent = traceparentFields(upstream.sim.requests[0]?.headers.traceparent);
    const posts = received.filter((r) => r.path === '/v1/traces');
    expect(posts.length).toBeGreaterThan(0);
    expect(posts.every((p) => p.contentType === 'application/x-protobuf')).toBe(true);
    const body = Buffer.concat(posts.map((p) => p.body));
    // Protobuf keeps strings and ids as their bytes: the service name, span names and the trace id are there.
    expect(body.includes('imagegate-otlp-test')).toBe(true);
    expect(body.includes('POST /v1/images/generations')).toBe(true);
    expect(body.includes('imagegate.attempt')).toBe(true);
    expect(body.includes(Buffer.from(traceparent.traceId, 'hex'))).toBe(true);
  }, 120_000);
});
