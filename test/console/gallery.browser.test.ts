/**
 * The gallery in a real browser against the demo channel: an empty gallery says how to get images; images
 * generated through the API show as decoded thumbnails; the detail shows the prompt, parameters and a
 * retention countdown that ticks; filters narrow the grid; deleting one removes it from the grid and the API;
 * "Load more" pages past the first 24, by cursor (images arriving meanwhile are not shown twice); content review (the Review filter, scores, a refused image unlinked, Approve).
 */
import { expect, it, vi } from 'vitest';
import { TEST_ADMIN_KEY } from '../helpers/admin.js';
import { describeInBrowser, screenshot, signIn, useConsoleWorld, WAIT_MS } from './browser.js';
import { allDecoded, atNarrowWidth, chooseTheme, guardPage } from './page-guard.js';

describeInBrowser('console gallery', () => {
  vi.setConfig({ testTimeout: 120_000 });
  const world = useConsoleWorld();
  guardPage(world);

  async function openGallery() {
    const { page, url } = world();
    await signIn(page, url, TEST_ADMIN_KEY);
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Gallery' }).click();
    await page.getByRole('heading', { level: 1, name: 'Gallery' }).waitFor();
    return page;
  }

  it('an empty gallery says so and links to the Playground', async () => {
    const page = await openGallery();
    await page.getByRole('heading', { name: 'No images yet' }).waitFor();
    await page.getByRole('main').getByRole('link', { name: 'Playground' }).click();
    await page.getByRole('heading', { level: 1, name: 'Playground' }).waitFor();
  });

  it('shows generated images as thumbnails, the detail with prompt and countdown, and deletes one', async () => {
    const { gw, page } = world();
    await gw.client.images.generate({ model: 'dall-e-2', prompt: 'a red fox in the snow', size: '512x512', response_format: 'url' });
    await gw.client.images.generate({ model: 'gpt-image-1', prompt: 'a blue whale at night', size: '1024x1024', quality: 'low' });
    await openGallery();
    const thumbnails = page.locator('.gallery-grid img');
    await expect.poll(() => thumbnails.count(), { timeout: WAIT_MS }).toBe(2);
    await expect.poll(() => thumbnails.evaluateAll(allDecoded), { timeout: WAIT_MS }).toBe(true);

    await page.getByRole('button', { name: 'a red fox in the snow' }).click();
    const detail = page.getByRole('complementary', { name: 'Image detail' });
    expect(await detail.getByTestId('image-prompt').textContent()).toBe('a red fox in the snow');
    expect(await detail.textContent()).toContain('512×512');
    expect(await detail.textContent()).toContain('dall-e-2');
    expect(await detail.getByRole('link', { name: 'Open the full image' }).getAttribute('href')).toMatch(/\/files\//);
    // The retention countdown ticks.
    const countdown = detail.getByTestId('image-expires');
    const first = await countdown.textContent();
    await expect.poll(() => countdown.textContent(), { timeout: WAIT_MS }).not.toBe(first);
    await expect.poll(() => detail.locator('img').evaluateAll(allDecoded), { timeout: WAIT_MS }).toBe(true);
    await screenshot(page, 'gallery');

    // A filter by model narrows the grid; cleared, both are back.
    await page.getByLabel('Model').fill('gpt-image-1');
    await expect.poll(() => thumbnails.count(), { timeout: WAIT_MS }).toBe(1);
    expect(await thumbnails.first().getAttribute('alt')).toBe('a blue whale at night');
    await page.getByLabel('Model').fill('');
    await expect.poll(() => thumbnails.count(), { timeout: WAIT_MS }).toBe(2);

    const list = (await (await fetch(`${gw.origin}/admin/api/images`, { headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } })).json()) as {
      data: { id: string; prompt: string }[];
    };
    const fox = list.data.find((image) => image.prompt === 'a red fox in the snow');
    if (!fox) throw new Error('the fox image is not listed');
    await page.getByRole('button', { name: 'a red fox in the snow' }).click();
    await detail.getByRole('button', { name: 'Delete' }).click();
    await detail.getByRole('button', { name: 'Yes, delete' }).click();
    await expect.poll(() => thumbnails.count(), { timeout: WAIT_MS }).toBe(1);
    expect(await page.getByRole('button', { name: 'a red fox in the snow' }).count()).toBe(0);
    const gone = await fetch(`${gw.origin}/admin/api/images/${fox.id}`, { headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
    expect(gone.status).toBe(404);
  });

  it('pages with Load more past the first 24 images', async () => {
    const { gw, page } = world();
    for (const batch of [1, 2, 3]) await gw.client.images.generate({ model: 'dall-e-2', prompt: `harbour lights, batch ${batch}`, size: '256x256', n: 10 });
    await openGallery();
    const thumbnails = page.locator('.gallery-grid img');
    await expect.poll(() => thumbnails.count(), { timeout: WAIT_MS }).toBe(24);
    // Five more arrive while the first page is shown: Load more goes on from the last one shown, so none
    // of the 24 shows twice (an offset of 24 would now start five images earlier).
    await gw.client.images.generate({ model: 'dall-e-2', prompt: 'harbour lights, late', size: '256x256', n: 5 });
    await page.getByRole('button', { name: 'Load more' }).click();
    // The whale kept from before, and the 30 from before the first page: each once.
    await expect.poll(() => thumbnails.count(), { timeout: WAIT_MS }).toBe(31);
    const shown = await Promise.all((await thumbnails.all()).map(async (image) => (await image.getAttribute('src'))?.split('?')[0]));
    expect(new Set(shown).size).toBe(31);
    expect(await page.getByRole('button', { name: 'Load more' }).count()).toBe(0);
    expect(await thumbnails.last().getAttribute('alt')).toBe('a blue whale at night');
  });

  it('reads in dark mode and at a phone width', async () => {
    const { page } = world();
    await page.getByRole('button', { name: 'a blue whale at night' }).click();
    await page.getByRole('complementary', { name: 'Image detail' }).waitFor();
    await chooseTheme(page, 'dark');
    await screenshot(page, 'gallery-dark');
    await atNarrowWidth(page, async () => {
      await page.getByRole('complementary', { name: 'Image detail' }).scrollIntoViewIfNeeded();
      await screenshot(page, 'gallery-narrow');
    });
    await chooseTheme(page, 'system');
  });

  it('content review: the Review filter lists flagged and refused images with their scores; a refused one has no link; Approve clears one', async () => {
    const { gw, page } = world();
    // Keys whose content policy trips on every image (neutral at 0): one flags, one refuses.
    const policyKey = async (mode: string) => {
      const res = await fetch(`${gw.origin}/admin/api/keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: mode, safety: { mode, thresholds: { neutral: 0 } } }),
      });
      return String(((await res.json()) as { key: string }).key);
    };
    const generate = (key: string, prompt: string) =>
      fetch(`${gw.baseURL}/images/generations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'dall-e-2', prompt, size: '256x256', response_format: 'url' }),
      });
    expect((await generate(await policyKey('flag'), 'a flagged lighthouse')).status).toBe(200);
    expect((await generate(await policyKey('block'), 'a refused lighthouse')).status).toBe(400);
    await gw.client.images.generate({ model: 'dall-e-2', prompt: 'an ordinary lighthouse', size: '256x256', response_format: 'url' });
    await openGallery();
    const thumbnails = page.locator('.gallery-grid img');
    // The earlier tests' images are in the same gateway: only the review filters count here.
    await page.getByRole('combobox', { name: 'Review' }).selectOption('any');
    await expect.poll(() => thumbnails.count(), { timeout: WAIT_MS }).toBe(2);
    await page.getByRole('combobox', { name: 'Review' }).selectOption('refused');
    await expect.poll(() => thumbnails.count(), { timeout: WAIT_MS }).toBe(1);
    await page.getByRole('button', { name: 'a refused lighthouse' }).click();
    const detail = page.getByRole('complementary', { name: 'Image detail' });
    expect(await detail.getByTestId('image-review').textContent()).toBe('refused');
    expect(await detail.textContent()).toContain('never linked');
    expect(await detail.getByRole('link', { name: 'Open the full image' }).count()).toBe(0);
    await expect.poll(() => detail.locator('img').evaluateAll(allDecoded), { timeout: WAIT_MS }).toBe(true);

    await page.getByRole('combobox', { name: 'Review' }).selectOption('flagged');
    await expect.poll(() => thumbnails.count(), { timeout: WAIT_MS }).toBe(1);
    await page.getByRole('button', { name: 'a flagged lighthouse' }).click();
    expect(Number(await detail.getByTestId('score-neutral').textContent())).toBeGreaterThanOrEqual(0);
    expect(await detail.getByRole('link', { name: 'Open the full image' }).count()).toBe(1);
    await detail.getByRole('button', { name: 'Approve' }).click();
    await page.getByRole('heading', { name: 'No images match' }).waitFor();
    await page.getByRole('combobox', { name: 'Review' }).selectOption('approved');
    await expect.poll(() => thumbnails.count(), { timeout: WAIT_MS }).toBe(1);
  });
});
