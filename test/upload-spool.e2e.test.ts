/**
 * Multipart uploads spooled to disk as they are read, and streamed from the file to the
 * upstream: the upstream gets them byte for byte with a Content-Length (multipart, JSON data
 * URIs, a failover's second attempt, an async task after its request), and the spool directory
 * is empty once the request is over, however it ended (answered, failed over, client gone,
 * refused at a cap); a crash's leftovers are removed at start-up.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toFile } from 'openai';
import { describe, expect, it } from 'vitest';
import { ImageHeaderScanner, readImageHeader } from '../src/core/image-header.js';
import { startOpenAISimulator, type RunningSimulator } from '../sim/openai/simulator.js';
import { closeAfterEach, later, onCleanup } from './helpers/cleanup.js';
import { relayChannel, writeConfigFile } from './helpers/config-file.js';
import { startGateway, type TestGateway } from './helpers/gateway.js';
import { makeJpeg, makeNoisePng, noiseBytes } from './helpers/inputs.js';

closeAfterEach();

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** About 1.4 MB: many chunks on every hop. */
const upload = await makeNoisePng(600, 600);

const relay = (name: string, sim: RunningSimulator, extra: Record<string, unknown> = {}) => relayChannel(name, sim.baseURL, extra);

async function gatewayWith(channels: Record<string, unknown>[], env: Record<string, string> = {}): Promise<TestGateway> {
  const file = await writeConfigFile({ channels });
  return later(await startGateway({ IMAGEGATE_CONFIG: file, IMAGEGATE_TASK_POLL: '50ms', ...env }));
}

const spoolDir = (gw: TestGateway) => join(gw.app.config.dataDir, 'spool');
const spooled = (gw: TestGateway) => readdir(spoolDir(gw));

function editForm(image: Buffer, extra: Record<string, Blob | string> = {}): FormData {
  const form = new FormData();
  form.append('model', 'gpt-image-1');
  form.append('prompt', 'spooled');
  form.append('size', '1024x1024');
  form.append('image', new Blob([image], { type: 'image/png' }), 'upload.png');
  for (const [name, value] of Object.entries(extra)) form.append(name, value);
  return form;
}

async function postForm(gw: TestGateway, form: FormData, headers: Record<string, string> = {}) {
  const res = await fetch(`${gw.origin}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${gw.apiKey}`, ...headers }, body: form });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

function uploadedFiles(sim: RunningSimulator) {
  return sim.sim.requests.map((r) => r.form?.files.map((f) => ({ size: f.size, sha256: f.sha256 })));
}

describe('uploads spooled to disk, streamed to the upstream', () => {
  it('the upstream gets the upload byte for byte, with a Content-Length; the spool is empty after', async () => {
    const sim = later(await startOpenAISimulator());
    const gw = await gatewayWith([{ name: 'up', kind: 'openai', base_url: sim.baseURL, api_key: 'sk-up' }]);
    const res = await gw.client.images.edit({ model: 'gpt-image-1', image: await toFile(upload, 'photo.png', { type: 'image/png' }), prompt: 'spooled' });
    expect(res.data?.[0]?.b64_json ?? res.data?.[0]?.url).toBeTruthy();
    expect(uploadedFiles(sim)).toEqual([[{ size: upload.length, sha256: sha256(upload) }]]);
    const headers = sim.sim.requests[0]?.headers ?? {};
    expect(Number(headers['content-length'])).toBeGreaterThan(upload.length);
    expect(headers['transfer-encoding']).toBeUndefined();
    await expect.poll(() => spooled(gw)).toEqual([]);
  });

  it('several images and a mask arrive whole and in order', async () => {
    const sim = later(await startOpenAISimulator());
    const gw = await gatewayWith([{ name: 'up', kind: 'openai', base_url: sim.baseURL, api_key: 'sk-up' }]);
    const second = await makeNoisePng(600, 600);
    const mask = await makeNoisePng(600, 600);
    const form = editForm(upload);
    form.append('image', new Blob([second], { type: 'image/png' }), 'second.png');
    form.append('mask', new Blob([mask], { type: 'image/png' }), 'mask.png');
    expect((await postForm(gw, form)).status).toBe(200);
    expect(sim.sim.requests[0]?.form?.files.map((f) => [f.field, f.sha256])).toEqual([
      ['image[]', sha256(upload)],
      ['image[]', sha256(second)],
      ['mask', sha256(mask)],
    ]);
    await expect.poll(() => spooled(gw)).toEqual([]);
  });

  it('a relay that takes data URIs in JSON gets the upload as base64 streamed into the body', async () => {
    const sim = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const gw = await gatewayWith([relay('inline', sim, { reference_images: 'inline' })]);
    expect((await postForm(gw, editForm(upload))).status).toBe(200);
    const last = sim.sim.requests.at(-1);
    expect(last?.path).toBe('/v1/images/generations');
    expect((last?.json as { image?: string[] }).image).toEqual([`data:image/png;base64,${upload.toString('base64')}`]);
    expect(last?.headers['content-length']).toBeDefined();
    await expect.poll(() => spooled(gw)).toEqual([]);
  });

  it('an upstream failure fails over to a second channel: both attempts get the whole file; the spool is empty after', async () => {
    const a = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const b = later(await startOpenAISimulator({ relay: { answer: 'b64_json' } }));
    const gw = await gatewayWith([relay('a', a, { priority: 10 }), relay('b', b)]);
    a.sim.enqueueFault({ kind: 'status', status: 500 });
    expect((await postForm(gw, editForm(upload))).status).toBe(200);
    const whole = [[{ size: upload.length, sha256: sha256(upload) }]];
    expect(uploadedFiles(a)).toEqual(whole);
    expect(uploadedFiles(b)).toEqual(whole);
    await expect.poll(() => spooled(gw)).toEqual([]);
  });

  it('an async task keeps the upload in its row: the worker sends it after the request (and its spool file) is gone', async () => {
    const sim = later(await startOpenAISimulator());
    const gw = await gatewayWith([{ name: 'up', kind: 'openai', base_url: sim.baseURL, api_key: 'sk-up' }]);
    const submitted = await postForm(gw, editForm(upload), { 'x-new-api-async-task': 'true' });
    expect(submitted.status).toBe(200);
    const taskId = (submitted.json.data as { task_id: string }).task_id;
    await expect
      .poll(
        async () => {
          const res = await fetch(`${gw.baseURL}/images/tasks/${taskId}`, { headers: { authorization: `Bearer ${gw.apiKey}` } });
          return ((await res.json()) as { data: { status: string } }).data.status;
        },
        { timeout: 10_000 },
      )
      .toBe('succeeded');
    expect(uploadedFiles(sim)).toEqual([[{ size: upload.length, sha256: sha256(upload) }]]);
    expect(await spooled(gw)).toEqual([]);
  });

  it('a client that goes away mid-upload leaves nothing in the spool', async () => {
    const sim = later(await startOpenAISimulator());
    const gw = await gatewayWith([{ name: 'up', kind: 'openai', base_url: sim.baseURL, api_key: 'sk-up' }]);
    const boundary = 'spool-test-boundary';
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\ngpt-image-1\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nabandoned\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n`,
    );
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const { hostname, port } = new URL(gw.origin);
    const outgoing = request({
      host: hostname,
      port,
      method: 'POST',
      path: '/v1/images/edits',
      agent: false,
      headers: {
        authorization: `Bearer ${gw.apiKey}`,
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': String(head.length + upload.length + tail.length),
      },
    });
    outgoing.on('error', () => {});
    outgoing.write(Buffer.concat([head, upload.subarray(0, 512 * 1024)]));
    // The part is being written to the spool...
    await expect
      .poll(async () => {
        const files = await spooled(gw);
        return files.length === 1 ? (await stat(join(spoolDir(gw), files[0] ?? ''))).size : 0;
      })
      .toBeGreaterThan(0);
    // ...when the client vanishes.
    outgoing.destroy();
    await expect.poll(() => spooled(gw)).toEqual([]);
    expect(sim.sim.requests).toHaveLength(0);
  });

  it('a part past its cap and uploads past the request total are refused as before, leaving nothing in the spool', async () => {
    const sim = later(await startOpenAISimulator());
    const channels = [{ name: 'up', kind: 'openai', base_url: sim.baseURL, api_key: 'sk-up' }];
    const gw = await gatewayWith(channels);
    const bigMask = new Blob([noiseBytes(4 * 1024 * 1024 + 1)], { type: 'image/png' });
    const maskRefused = await postForm(gw, editForm(upload, { mask: bigMask }));
    expect(maskRefused.status).toBe(400);
    expect(maskRefused.json.error).toEqual({
      type: 'invalid_request_error',
      code: 'image_too_large',
      param: 'mask',
      message: 'mask is larger than 4 MB, the most a mask may be.',
    });
    await expect.poll(() => spooled(gw)).toEqual([]);
    const limited = await gatewayWith(channels, { IMAGEGATE_UPLOAD_LIMIT: '2mb' });
    const form = editForm(upload);
    form.append('image', new Blob([upload], { type: 'image/png' }), 'again.png');
    const totalRefused = await postForm(limited, form);
    expect(totalRefused.status).toBe(413);
    expect(totalRefused.json.error).toEqual({
      type: 'invalid_request_error',
      code: 'request_too_large',
      param: 'image',
      message: 'The uploaded images exceed 2 MB, the most this gateway takes per request.',
    });
    await expect.poll(() => spooled(limited)).toEqual([]);
    expect(sim.sim.requests).toHaveLength(0);
  });

  it('a spooled upload that is not a whole image is refused before any upstream call', async () => {
    const sim = later(await startOpenAISimulator());
    const gw = await gatewayWith([{ name: 'up', kind: 'openai', base_url: sim.baseURL, api_key: 'sk-up' }]);
    const cut = await postForm(gw, editForm(upload.subarray(0, upload.length - 100)));
    expect(cut.status).toBe(400);
    expect(cut.json.error).toMatchObject({ code: 'invalid_image', param: 'image' });
    const notImage = await postForm(gw, editForm(noiseBytes(300_000)));
    expect(notImage.status).toBe(400);
    expect(notImage.json.error).toMatchObject({ code: 'invalid_image_format', param: 'image' });
    expect(sim.sim.requests).toHaveLength(0);
    await expect.poll(() => spooled(gw)).toEqual([]);
  });

  it('past IMAGEGATE_SPOOL_BUDGET an upload gets 503 server_busy (the disk is not filled); what it wrote goes, and the budget comes back', async () => {
    const sim = later(await startOpenAISimulator());
    // 1.4 MB uploads, a 2 MB budget: one fits, a second at the same time does not.
    const gw = await gatewayWith([{ name: 'up', kind: 'openai', base_url: sim.baseURL, api_key: 'sk-up' }], { IMAGEGATE_SPOOL_BUDGET: '2mb' });
    const form = editForm(upload);
    form.append('image', new Blob([upload], { type: 'image/png' }), 'again.png');
    const refused = await postForm(gw, form);
    expect(refused.status).toBe(503);
    expect(refused.json.error).toMatchObject({ type: 'server_error', code: 'server_busy' });
    await expect.poll(() => spooled(gw)).toEqual([]);
    expect(sim.sim.requests).toHaveLength(0);
    // Released: the same budget takes one upload again, and again.
    for (let i = 0; i < 2; i++) expect((await postForm(gw, editForm(upload))).status).toBe(200);
    expect(uploadedFiles(sim)).toEqual([[{ size: upload.length, sha256: sha256(upload) }], [{ size: upload.length, sha256: sha256(upload) }]]);
  });

  it('a spool file left behind by a crash is removed at start-up', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'imagegate-spool-test-'));
    onCleanup(() => rm(dataDir, { recursive: true, force: true }));
    await mkdir(join(dataDir, 'spool'), { recursive: true });
    await writeFile(join(dataDir, 'spool', '0123456789abcdef.upload'), upload);
    const gw = later(await startGateway({ IMAGEGATE_DATA_DIR: dataDir }));
    expect(spoolDir(gw)).toBe(join(dataDir, 'spool'));
    expect(await spooled(gw)).toEqual([]);
  });
});

describe('ImageHeaderScanner', () => {
  it('reads the same header from bytes in pieces of any size as from the whole', async () => {
    const samples = [upload, upload.subarray(0, upload.length - 1), await makeJpeg({ width: 64, height: 48 }), noiseBytes(5_000)];
    for (const bytes of samples) {
      const whole = readImageHeader(bytes);
      for (const piece of [1, 7, 4096, 65_536]) {
        const scanner = new ImageHeaderScanner();
        for (let at = 0; at < bytes.length; at += piece) scanner.push(bytes.subarray(at, at + piece));
        expect(scanner.finish()).toEqual(whole);
      }
    }
    expect(readImageHeader(upload)).toEqual({ kind: 'png', width: 600, height: 600, hasAlpha: true, complete: true });
  });
});
