/**
 * /v1/models tells the truth: it lists the catalogue models some enabled channel serves (a
 * channel's `models`, or every model for `*`), in catalogue order, and the demo channel's as
 * owned_by imagegate-demo. A catalogue model no enabled channel serves is a 404 model_not_found
 * (param model) on GET /v1/models/{id} and on a generation, whose message names the served models;
 * the task API refuses it as its unknown models (400 unsupported_model). Through the real server,
 * with channels changed over the admin API.
 */
import { describe, expect, it } from 'vitest';
import { adminJson, TEST_ADMIN_KEY } from './helpers/admin.js';
import { closeAfterEach, later } from './helpers/cleanup.js';
import { writeConfigFile } from './helpers/config-file.js';
import { postJson, startGateway, type TestGateway } from './helpers/gateway.js';

closeAfterEach();

interface ModelItem {
  id: string;
  owned_by: string;
}

async function listed(gw: TestGateway): Promise<ModelItem[]> {
  return (await gw.client.models.list()).data.map((m) => ({ id: m.id, owned_by: m.owned_by }));
}

async function getModel(gw: TestGateway, id: string) {
  const res = await fetch(`${gw.baseURL}/models/${id}`, { headers: { authorization: `Bearer ${gw.apiKey}` } });
  return { status: res.status, json: (await res.json()) as { id?: string; error?: { code: string; param: string; message: string; type: string } } };
}

async function gateway(): Promise<TestGateway> {
  // An operator's name on top of the catalogue: served like any other model, by the channels that list it (or `*`).
  const file = await writeConfigFile({ models: [{ name: 'poster', base: 'gpt-image-2', params: { size: '1024x1536' } }] });
  return later(await startGateway({ IMAGEGATE_CONFIG: file, IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY }));
}

describe('/v1/models lists what is served', () => {
  it('a channel serving two models: exactly those listed; another model is 404 naming them; disabled: nothing listed', async () => {
    const gw = await gateway();

    // No channel anywhere: the demo channel serves the whole catalogue, labelled.
    const demo = await listed(gw);
    expect(demo.map((m) => m.id)).toContain('poster');
    expect(demo.map((m) => m.id)).toContain('dall-e-2');
    expect(demo.every((m) => m.owned_by === 'imagegate-demo')).toBe(true);

    const created = await adminJson(gw.origin, 'POST', '/admin/api/channels', {
      name: 'pair',
      kind: 'openai-compatible',
      base_url: 'http://127.0.0.1:9/v1',
      api_key: 'rk-pair-123456',
      models: ['dall-e-3', 'gpt-image-2'],
    });
    expect(created).toMatchObject({ name: 'pair' });
    // Catalogue order, not the channel's; the demo channel is gone now that a channel is defined.
    expect(await listed(gw)).toEqual([
      { id: 'gpt-image-2', owned_by: 'imagegate' },
      { id: 'dall-e-3', owned_by: 'imagegate' },
    ]);
    expect((await getModel(gw, 'gpt-image-2')).json).toMatchObject({ id: 'gpt-image-2', capabilities: { family: 'gpt-image-2' } });

    // A catalogue model nobody serves: 404 in OpenAI's envelope, naming what is served.
    for (const id of ['dall-e-2', 'poster']) {
      const one = await getModel(gw, id);
      expect(one.status, id).toBe(404);
      expect(one.json.error).toMatchObject({ code: 'model_not_found', param: 'model', type: 'invalid_request_error' });
      expect(one.json.error?.message).toBe(
        `The model '${id}' is not served by this gateway (no enabled channel serves it). Models served: gpt-image-2, dall-e-3.`,
      );
    }
    const generation = await postJson(gw, '/v1/images/generations', { model: 'dall-e-2', prompt: 'nobody serves me' });
    expect(generation.status).toBe(404);
    expect(generation.json?.error).toMatchObject({
      code: 'model_not_found',
      param: 'model',
      message: expect.stringContaining('Models served: gpt-image-2, dall-e-3.'),
    });
    // The SDK sees OpenAI's NotFoundError; new-api's async mode is refused the same way, before any task exists.
    await expect(gw.client.images.generate({ model: 'dall-e-2', prompt: 'sdk' })).rejects.toMatchObject({
      status: 404,
      code: 'model_not_found',
      param: 'model',
    });
    const asyncTask = await postJson(gw, '/v1/images/generations', { model: 'dall-e-2', prompt: 'later' }, { 'x-new-api-async-task': 'true' });
    expect([asyncTask.status, (asyncTask.json?.error as { code?: string } | undefined)?.code]).toEqual([404, 'model_not_found']);
    // The task API answers its unknown models 400 (its 404 means "no such task"), with the same message.
    const taskApi = await postJson(gw, '/api/v1/images/generations', { model: 'dall-e-2', prompt: 'task' });
    expect(taskApi.status).toBe(400);
    expect(taskApi.json).toMatchObject({ code: 400, msg: expect.stringContaining('Models served: gpt-image-2, dall-e-3.'), data: null });
    // A name outside the catalogue is still the plain unknown model.
    expect((await getModel(gw, 'dall-e-9')).json.error).toMatchObject({
      code: 'model_not_found',
      message: "The model 'dall-e-9' does not exist or you do not have access to it.",
    });

    // An operator's name is listed once a channel lists it.
    await adminJson(gw.origin, 'PATCH', '/admin/api/channels/pair', { models: ['gpt-image-2', 'poster'] });
    expect((await listed(gw)).map((m) => m.id)).toEqual(['gpt-image-2', 'poster']);

    // Disabled: nothing is served, nothing listed; every model is 404, saying why.
    await adminJson(gw.origin, 'PATCH', '/admin/api/channels/pair', { enabled: false });
    expect(await listed(gw)).toEqual([]);
    const none = await getModel(gw, 'gpt-image-2');
    expect(none.status).toBe(404);
    expect(none.json.error?.message).toBe(
      "The model 'gpt-image-2' is not served by this gateway (no enabled channel serves it). No model is served right now: no channel is enabled.",
    );

    // A demo channel added for one model: listed, labelled as the demo's, and it serves.
    await adminJson(gw.origin, 'POST', '/admin/api/channels', { name: 'try-me', kind: 'demo', models: ['gpt-image-1'] });
    expect(await listed(gw)).toEqual([{ id: 'gpt-image-1', owned_by: 'imagegate-demo' }]);
    const made = await gw.client.images.generate({ model: 'gpt-image-1', prompt: 'a demo lighthouse', size: '1024x1024', response_format: 'b64_json' });
    expect(made.data).toHaveLength(1);
    expect((await postJson(gw, '/v1/images/generations', { model: 'gpt-image-2', prompt: 'x' })).status).toBe(404);
  });

  it('a * channel serves the whole catalogue, operator names included', async () => {
    const gw = await gateway();
    await adminJson(gw.origin, 'POST', '/admin/api/channels', {
      name: 'all',
      kind: 'openai-compatible',
      base_url: 'http://127.0.0.1:9/v1',
      api_key: 'rk-all-123456',
      models: '*',
    });
    const ids = (await listed(gw)).map((m) => m.id);
    expect(ids).toContain('poster');
    expect(ids).toContain('dall-e-2');
    expect(ids.length).toBeGreaterThan(10);
  });
});
