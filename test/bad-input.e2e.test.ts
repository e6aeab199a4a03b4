/** Bad input over real HTTP: each case asserts status, type, code and param of the envelope. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, startGateway, type TestGateway } from './helpers/gateway.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway({ IMAGEGATE_BODY_LIMIT: '64kb' });
});
afterAll(async () => gw?.close());

type Case = [name: string, body: unknown, status: number, code: string | null, param: string | null];

const BAD_INPUT: Case[] = [
  ['missing prompt', { model: 'gpt-image-2' }, 400, 'missing_required_parameter', 'prompt'],
  ['empty prompt', { prompt: '   ' }, 400, 'invalid_value', 'prompt'],
  ['prompt not a string', { prompt: 42 }, 400, 'invalid_type', 'prompt'],
  ['prompt over 32,000 for GPT', { prompt: 'a'.repeat(32_001) }, 400, 'string_above_max_length', 'prompt'],
  ['prompt over 1,000 for dall-e-2', { model: 'dall-e-2', prompt: 'a'.repeat(1_001) }, 400, 'string_above_max_length', 'prompt'],
  ['prompt over 4,000 for dall-e-3', { model: 'dall-e-3', prompt: 'a'.repeat(4_001) }, 400, 'string_above_max_length', 'prompt'],
  ['unknown model', { model: 'gpt-image-9', prompt: 'x' }, 404, 'model_not_found', 'model'],
  ['model not a string', { model: ['gpt-image-2'], prompt: 'x' }, 400, 'invalid_type', 'model'],
  ['n = 11', { prompt: 'x', n: 11 }, 400, 'invalid_value', 'n'],
  ['n negative', { prompt: 'x', n: -1 }, 400, 'invalid_value', 'n'],
  ['n fractional', { prompt: 'x', n: 1.5 }, 400, 'invalid_type', 'n'],
  ['n a string', { prompt: 'x', n: '2' }, 400, 'invalid_type', 'n'],
  ['dall-e-3 n = 2', { model: 'dall-e-3', prompt: 'x', n: 2 }, 400, 'invalid_value', 'n'],
  ['size not WxH', { prompt: 'x', size: 'big' }, 400, 'invalid_value', 'size'],
  ['gpt-image-2 edge not multiple of 16', { prompt: 'x', size: '1000x1000' }, 400, 'invalid_value', 'size'],
  ['gpt-image-2 edge over 3840', { prompt: 'x', size: '3856x1024' }, 400, 'invalid_value', 'size'],
  ['gpt-image-2 aspect over 3:1', { prompt: 'x', size: '3520x1168' }, 400, 'invalid_value', 'size'],
  ['gpt-image-2 too few pixels', { prompt: 'x', size: '512x512' }, 400, 'invalid_value', 'size'],
  ['gpt-image-2 too many pixels', { prompt: 'x', size: '3840x2176' }, 400, 'invalid_value', 'size'],
  ['gpt-image-1 custom size', { model: 'gpt-image-1', prompt: 'x', size: '2048x2048' }, 400, 'invalid_value', 'size'],
  ['gpt-image-2-4k with a 1K size', { model: 'gpt-image-2-4k', prompt: 'x', size: '1024x1024' }, 400, 'invalid_value', 'size'],
  ['dall-e-2 non-square', { model: 'dall-e-2', prompt: 'x', size: '1024x1792' }, 400, 'invalid_value', 'size'],
  ['dall-e-3 256x256', { model: 'dall-e-3', prompt: 'x', size: '256x256' }, 400, 'invalid_value', 'size'],
  ['quality hd for GPT', { prompt: 'x', quality: 'hd' }, 400, 'invalid_value', 'quality'],
  ['quality high for dall-e-3', { model: 'dall-e-3', prompt: 'x', quality: 'high' }, 400, 'invalid_value', 'quality'],
  ['response_format unknown', { prompt: 'x', response_format: 'jpeg' }, 400, 'invalid_value', 'response_format'],
  ['output_format gif', { prompt: 'x', output_format: 'gif' }, 400, 'invalid_value', 'output_format'],
  ['output_compression 101', { prompt: 'x', output_format: 'jpeg', output_compression: 101 }, 400, 'invalid_value', 'output_compression'],
  ['output_compression with png', { prompt: 'x', output_compression: 50 }, 400, 'invalid_value', 'output_compression'],
  ['transparent on gpt-image-2', { prompt: 'x', background: 'transparent' }, 400, 'invalid_value', 'background'],
  ['transparent with jpeg', { model: 'gpt-image-1.5', prompt: 'x', background: 'transparent', output_format: 'jpeg' }, 400, 'invalid_value', 'output_format'],
  ['background unknown', { prompt: 'x', background: 'green' }, 400, 'invalid_value', 'background'],
  ['moderation unknown', { prompt: 'x', moderation: 'none' }, 400, 'invalid_value', 'moderation'],
  ['output_format for dall-e-3', { model: 'dall-e-3', prompt: 'x', output_format: 'png' }, 400, 'unsupported_parameter', 'output_format'],
  ['style unknown for dall-e-3', { model: 'dall-e-3', prompt: 'x', style: 'anime' }, 400, 'invalid_value', 'style'],
  ['watermark not boolean', { prompt: 'x', watermark: 'no' }, 400, 'invalid_type', 'watermark'],
  ['user not a string', { prompt: 'x', user: 7 }, 400, 'invalid_type', 'user'],
  ['partial_images 4', { prompt: 'x', partial_images: 4 }, 400, 'invalid_value', 'partial_images'],
  ['stream not a boolean', { prompt: 'x', stream: 'yes' }, 400, 'invalid_type', 'stream'],
  ['stream for dall-e-3', { model: 'dall-e-3', prompt: 'x', stream: true }, 400, 'unsupported_parameter', 'stream'],
  ['body is an array', [{ prompt: 'x' }], 400, 'invalid_request', null],
  ['body is malformed JSON', '{"prompt": "x",', 400, 'invalid_json', null],
  ['body is empty', '', 400, 'invalid_json', null],
];

describe('bad input', () => {
  it(`has at least 25 cases (${BAD_INPUT.length})`, () => expect(BAD_INPUT.length).toBeGreaterThanOrEqual(25));

  it.each(BAD_INPUT)('%s', async (_name, body, status, code, param) => {
    const res = await postJson(gw, '/v1/images/generations', body);
    expect(res.status).toBe(status);
    expect(res.json?.error).toMatchObject({ type: 'invalid_request_error', code, param });
    expect(typeof (res.json?.error as { message?: unknown }).message).toBe('string');
  });

  it('413 for a body over IMAGEGATE_BODY_LIMIT', async () => {
    const res = await postJson(gw, '/v1/images/generations', { prompt: 'x'.repeat(70 * 1024) });
    expect(res.status).toBe(413);
    expect(res.json?.error).toMatchObject({ type: 'invalid_request_error', code: 'request_too_large', param: null });
  });

  it('415 for a body that is not JSON', async () => {
    const res = await fetch(`${gw.origin}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'text/plain' },
      body: 'prompt=x',
    });
    expect(res.status).toBe(415);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unsupported_media_type');
  });

  it('401 without a key, with a wrong key and with a revoked key', async () => {
    const noKey = await fetch(`${gw.origin}/v1/models`);
    expect(noKey.status).toBe(401);
    expect(await noKey.json()).toMatchObject({ error: { type: 'invalid_request_error', code: 'invalid_api_key', param: null } });
    const wrong = await postJson(gw, '/v1/images/generations', { prompt: 'x' }, { authorization: 'Bearer ig-not-a-real-key-000000' });
    expect(wrong.status).toBe(401);
    expect(wrong.text).not.toContain('ig-not-a-real-key-000000');
    const { key, id } = await gw.app.keys.create('short-lived');
    expect((await postJson(gw, '/v1/models', {}, { authorization: `Bearer ${key}` })).status).toBe(404);
    await gw.app.keys.revoke(id);
    const revoked = await fetch(`${gw.origin}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    expect(revoked.status).toBe(401);
  });

  it('404 in the OpenAI envelope for an unknown route, 404 model_not_found for an unknown model', async () => {
    const res = await postJson(gw, '/v1/images/nothing', { prompt: 'x' });
    expect(res.status).toBe(404);
    expect(res.json?.error).toMatchObject({ message: 'Invalid URL (POST /v1/images/nothing)', type: 'invalid_request_error' });
    const model = await fetch(`${gw.origin}/v1/models/dall-e-9`, { headers: { authorization: `Bearer ${gw.apiKey}` } });
    expect(model.status).toBe(404);
    expect(await model.json()).toMatchObject({ error: { code: 'model_not_found', param: 'model' } });
  });

  it('the SDK surfaces a 400 as BadRequestError with code and param', async () => {
    const err = await gw.client.images.generate({ prompt: 'x', size: '1000x1000' as '1024x1024' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, code: 'invalid_value', param: 'size', type: 'invalid_request_error' });
  });
});
