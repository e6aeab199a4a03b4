/**
 * The playground in a real browser against the OpenAI simulator: generate and see the image, a stream shows a
 * partial before the final image, paint a mask and edit (the mask the gateway got is transparent where painted),
 * async mode ends with the task's image, the request shown as code never shows the key, and an admin makes a
 * client key for the playground.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { startOpenAISimulator, type RunningSimulator } from '../../sim/openai/simulator.js';
import { TEST_ADMIN_KEY } from '../helpers/admin.js';
import { writeConfigFile } from '../helpers/config-file.js';
import { describeInBrowser, screenshot, signIn, useConsoleWorld, WAIT_MS } from './browser.js';
import { type RecordingProxy, startRecordingProxy } from './recording-proxy.js';
import { DRAGGED_PNG, FINAL_IMAGE_SIZES, finalImagesDecoded, RECORD_RESULT_STATES, RECORDED_RESULT_STATES } from './in-page.js';
import type { Page } from 'playwright-core';

const MODEL = 'gpt-image-1';

/** Waits for the results' final images to be decoded, and answers their natural sizes. */
async function finalImageSizes(page: Page, count = 1): Promise<{ width: number; height: number }[]> {
  await expect.poll(() => page.evaluate(finalImagesDecoded(count)), { timeout: WAIT_MS }).toBe(true);
  return (await page.evaluate(FINAL_IMAGE_SIZES)) as { width: number; height: number }[];
}

/** A fresh playground (the session is remembered for the tab), the model, the prompt and the mode. */
async function choose(page: Page, url: string, prompt: string, mode: 'Wait for the answer' | 'Stream' | 'Async task'): Promise<void> {
  await page.goto(`${url}playground`);
  // Form fields are found by name: a label wrapping a select also names it by its chosen option.
  await page.locator('select[name="model"]').selectOption(MODEL);
  // The model's own fields appear once its capabilities are read.
  await page.locator('select[name="quality"]').waitFor();
  await page.locator('textarea[name="prompt"]').fill(prompt);
  await page.getByRole('radio', { name: mode }).check();
}

describeInBrowser('console playground', () => {
  vi.setConfig({ testTimeout: 120_000 });
  let sim: RunningSimulator;
  let proxy: RecordingProxy;
  beforeAll(async () => {
    // Paced streams, so that a partial is on screen a while before the final image.
    sim = await startOpenAISimulator({ streamIntervalMs: 300 });
    proxy = await startRecordingProxy(sim.origin);
  });
  afterAll(async () => {
    await proxy?.close();
    await sim?.close();
  });
  const world = useConsoleWorld(async () => ({
    IMAGEGATE_CONFIG: await writeConfigFile({ channels: [{ name: 'up', kind: 'openai', base_url: proxy.baseURL, api_key: 'sk-up' }] }),
  }));

  it('a client key generates an image and sees it; the request is shown as code without the key', async () => {
    const { gw, page, url } = world();
    await signIn(page, url, gw.apiKey, { remember: true });
    await choose(page, url, 'a lighthouse at dusk', 'Wait for the answer');
    await page.locator('select[name="size"]').selectOption('1024x1024');
    await page.getByRole('button', { name: 'Generate' }).click();
    expect(await finalImageSizes(page)).toEqual([{ width: 1024, height: 1024 }]);
    expect(sim.sim.requests.at(-1)?.json).toMatchObject({ model: MODEL, prompt: 'a lighthouse at dusk', size: '1024x1024' });
    const code = page.getByTestId('request-code');
    expect(await code.textContent()).toContain('Authorization: Bearer $IMAGEGATE_KEY');
    expect(await code.textContent()).toContain('"size":"1024x1024"');
    for (const language of ['Python', 'Node']) {
      await page.getByRole('tab', { name: language }).click();
      expect(await code.textContent()).toContain('IMAGEGATE_KEY');
      expect(await code.textContent()).toContain('size');
    }
    expect(await page.content()).not.toContain(gw.apiKey);
    await page.getByRole('tab', { name: 'curl' }).click();
    await page.evaluate('window.scrollTo(0, 0)');
    await screenshot(page, 'playground');
  });

  it('a stream shows a partial image before the final one', async () => {
    const { page, url } = world();
    await choose(page, url, 'a kite over a beach', 'Stream');
    await page.locator('input[name="partial_images"]').fill('2');
    // Every state the result slot shows, in order, as the page draws it.
    await page.evaluate(RECORD_RESULT_STATES);
    await page.getByRole('button', { name: 'Generate' }).click();
    expect(await finalImageSizes(page)).toHaveLength(1);
    expect(await page.evaluate(RECORDED_RESULT_STATES)).toEqual(['true', 'false']);
    expect(sim.sim.requests.at(-1)?.json).toMatchObject({ stream: true, partial_images: 2 });
  });

  it('paints a mask and edits: the mask sent is transparent exactly where painted', async () => {
    const { page, url } = world();
    await choose(page, url, 'put a red balloon here', 'Wait for the answer');
    const input = await sharp({ create: { width: 512, height: 512, channels: 3, background: { r: 40, g: 120, b: 200 } } })
      .png()
      .toBuffer();
    await page.locator('input[type="file"]').setInputFiles({ name: 'scene.png', mimeType: 'image/png', buffer: input });
    const canvas = page.getByTestId('mask-canvas');
    await canvas.waitFor();
    await canvas.scrollIntoViewIfNeeded();
    // A stroke across the middle of the image, left quarter to right quarter.
    const box = await canvas.boundingBox();
    if (!box) throw new Error('the mask canvas has no box');
    await page.mouse.move(box.x + box.width * 0.25, box.y + box.height * 0.5);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5, { steps: 8 });
    await page.mouse.move(box.x + box.width * 0.75, box.y + box.height * 0.5, { steps: 8 });
    await page.mouse.up();
    await page.getByText('The painted area is sent as the mask').waitFor();
    await screenshot(page, 'playground-mask');
    await page.getByRole('button', { name: 'Edit' }).click();
    expect(await finalImageSizes(page)).toHaveLength(1);
    // What the gateway got from the page, as it passed it upstream: the image and a mask, transparent where painted.
    const forwarded = proxy.requests.filter((r) => r.path === '/v1/images/edits').at(-1);
    if (!forwarded) throw new Error('no edit reached the upstream');
    const form = await new Response(new Uint8Array(forwarded.body), { headers: { 'content-type': forwarded.contentType } }).formData();
    expect(form.get('prompt')).toBe('put a red balloon here');
    expect(form.get('image')).toBeInstanceOf(Blob);
    const mask = form.get('mask');
    expect(mask).toBeInstanceOf(Blob);
    const { data, info } = await sharp(Buffer.from(await (mask as Blob).arrayBuffer()))
      .ensureAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([512, 512]);
    const alphaAt = (x: number, y: number) => data[(y * info.width + x) * info.channels + 3];
    expect(alphaAt(256, 256)).toBe(0); // painted: the edit's area
    expect(alphaAt(160, 256)).toBe(0);
    expect(alphaAt(256, 40)).toBe(255); // unpainted: kept
    expect(alphaAt(10, 500)).toBe(255);
    expect(await page.getByTestId('request-code').textContent()).toContain("-F 'mask=@mask.png'");
  });

  it('an image dropped on the zone becomes an input: the request turns into an edit', async () => {
    const { page, url } = world();
    await choose(page, url, 'a dropped image, edited', 'Wait for the answer');
    await page.getByRole('button', { name: 'Generate' }).waitFor();
    const dataTransfer = await page.evaluateHandle(DRAGGED_PNG);
    await page.getByTestId('drop-zone').dispatchEvent('dragover', { dataTransfer });
    await page.getByTestId('drop-zone').dispatchEvent('drop', { dataTransfer });
    await page.getByRole('img', { name: 'dropped.png' }).waitFor();
    await page.getByRole('button', { name: 'Edit' }).click();
    expect(await finalImageSizes(page)).toHaveLength(1);
    expect(sim.sim.requests.at(-1)?.path).toBe('/v1/images/edits');
    // One input image, and no mask (nothing was painted); the gateway names the files it passes on itself.
    expect(sim.sim.requests.at(-1)?.form?.files.map((f) => [f.field, f.contentType])).toEqual([['image', 'image/png']]);
  });

  it('async mode: a task with a progress bar, ending with its image', async () => {
    const { page, url } = world();
    await choose(page, url, 'a slow painting of a harbour', 'Async task');
    await page.getByRole('button', { name: 'Generate' }).click();
    await page.getByRole('progressbar', { name: 'Task progress' }).waitFor();
    expect(await finalImageSizes(page)).toHaveLength(1);
    expect(await page.locator('.task-progress').textContent()).toMatch(/Task task_\S+: succeeded/);
    expect(await page.getByTestId('request-code').textContent()).toContain('X-New-Api-Async-Task: true');
  });

  it("a refusal, and a stream's error event, show the gateway's own message and code", async () => {
    const { page, url } = world();
    sim.sim.enqueueFault({ kind: 'status', status: 400, code: 'moderation_blocked', message: 'Your request was rejected by the safety system.' });
    await choose(page, url, 'something the upstream refuses', 'Wait for the answer');
    await page.getByRole('button', { name: 'Generate' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('rejected by the safety system');
    expect(await alert.locator('.error-code').textContent()).toMatch(/\S/);
    sim.sim.enqueueFault({ kind: 'stream_error', afterEvents: 1, message: 'The upstream broke off.' });
    await choose(page, url, 'a stream that breaks', 'Stream');
    await page.getByRole('button', { name: 'Generate' }).click();
    await page.getByRole('alert').waitFor();
    // The gateway's words for the broken upstream (its message, then its code), not the browser's.
    expect(await page.getByRole('alert').locator('.error-message').textContent()).toMatch(/upstream/i);
    expect(await page.getByRole('alert').locator('.error-code').textContent()).toMatch(/^[a-z_]+$/);
  });

  it('nothing the playground did was refused by its CSP (blob: results, the mask canvas, links of this origin)', () => {
    expect(world().cspViolations).toEqual([]);
  });

  it('the admin key gets a client key for the playground, then generates', async () => {
    const { page, url } = world();
    await signIn(page, url, TEST_ADMIN_KEY, { remember: true });
    await page.getByRole('button', { name: 'Create a playground key' }).click();
    await choose(page, url, 'an admin test image', 'Wait for the answer');
    await page.getByRole('button', { name: 'Generate' }).click();
    expect(await finalImageSizes(page)).toHaveLength(1);
  });
});
