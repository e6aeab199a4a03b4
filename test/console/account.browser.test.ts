/**
 * The Account page in a real browser (the demo channel serves): a client key signs in and sees its own
 * balance, limits and usage, and its own tasks and images only; another key's, made alongside, never show.
 */
import { beforeAll, expect, it, vi } from 'vitest';
import { adminJson } from '../helpers/admin.js';
import { postJson } from '../helpers/gateway.js';
import type { Page } from 'playwright-core';
import { describeInBrowser, screenshot, signIn, useConsoleWorld, WAIT_MS } from './browser.js';
import { allDecoded, atNarrowWidth, chooseTheme, guardPage } from './page-guard.js';

/** The prompts (alt texts) of the images the Images list shows, sorted, once it shows `count`. */
async function shownPrompts(page: Page, count = 2): Promise<string[]> {
  const thumbnails = page.getByRole('list', { name: 'Images' }).getByRole('img');
  await expect.poll(() => thumbnails.count(), { timeout: WAIT_MS }).toBe(count);
  return (await Promise.all((await thumbnails.all()).map((img) => img.getAttribute('alt')))).map(String).sort();
}

interface Made {
  secret: string;
  task: string;
  images: string[];
}

describeInBrowser('console account', () => {
  vi.setConfig({ testTimeout: 120_000 });
  const world = useConsoleWorld({ IMAGEGATE_TASK_POLL: '50ms' });
  guardPage(world);
  const made: Record<'alice' | 'bob', Made> = { alice: { secret: '', task: '', images: [] }, bob: { secret: '', task: '', images: [] } };

  async function as<T>(secret: string, path: string): Promise<T> {
    const res = await fetch(`${world().gw.origin}${path}`, { headers: { authorization: `Bearer ${secret}` } });
    expect(res.status, path).toBe(200);
    return (await res.json()) as T;
  }

  /** A key with credits, one image made directly and one async task, both finished. */
  async function makeKeyWithThings(name: 'alice' | 'bob', prompt: string): Promise<void> {
    const { gw } = world();
    const created = await adminJson(gw.origin, 'POST', '/admin/api/keys', { name, credits: 5, rpm: name === 'alice' ? 30 : null });
    const secret = String(created.key);
    const auth = { authorization: `Bearer ${secret}` };
    const direct = await postJson(gw, '/v1/images/generations', { model: 'dall-e-2', prompt, size: '256x256', response_format: 'url' }, auth);
    expect(direct.status, direct.text).toBe(200);
    const submitted = await postJson(
      gw,
      '/v1/images/generations',
      { model: 'dall-e-2', prompt: `${prompt}, as a task`, size: '256x256' },
      { ...auth, 'x-new-api-async-task': 'true' },
    );
    expect(submitted.status, submitted.text).toBe(200);
    const task = String((submitted.json?.data as { task_id: string }).task_id);
    await vi.waitFor(
      async () => {
        const { state } = await as<{ state: string }>(secret, `/v1/account/tasks/${task}`);
        if (state !== 'succeeded') throw new Error(`task ${task} is ${state}`);
      },
      { timeout: WAIT_MS, interval: 100 },
    );
    const images = (await as<{ data: { id: string }[] }>(secret, '/v1/account/images')).data.map((image) => image.id);
    expect(images).toHaveLength(2);
    made[name] = { secret, task, images };
  }

  beforeAll(async () => {
    await makeKeyWithThings('alice', 'a red fox');
    await makeKeyWithThings('bob', 'a grey owl');
  }, 120_000);

  it("a client key sees its own balance, usage, tasks and images, and none of another key's", async () => {
    const { page, url } = world();
    const { alice, bob } = made;
    await signIn(page, url, alice.secret);
    await page.getByRole('link', { name: 'Account' }).click();
    await page.getByRole('heading', { level: 1, name: 'Account' }).waitFor();
    const facts = page.getByTestId('account-facts');
    await facts.getByText('alice').waitFor();
    const balance = await page.getByTestId('account-balance').textContent();
    const spent = (await as<{ credits: number }>(alice.secret, '/v1/account')).credits;
    expect(spent).toBeLessThan(5);
    expect(balance).toBe(
      new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 4 }).format(spent),
    );
    expect(await facts.textContent()).toContain('30');
    // Usage: two requests, two images.
    const usage = page.getByRole('table', { name: 'Usage' });
    const allModels = usage.getByRole('row', { name: /All models/ });
    await allModels.waitFor();
    expect((await allModels.getByRole('cell').allTextContents()).slice(0, 4)).toEqual(['2', '2', '0', '2']);
    // Tasks: its own only.
    const tasks = page.getByRole('table', { name: 'Tasks' });
    await tasks.getByText(alice.task).waitFor();
    expect(await tasks.textContent()).not.toContain(bob.task);
    // Images (the Gallery page's grid): its own only, each thumbnail decoded.
    expect(await shownPrompts(page)).toEqual(['a red fox', 'a red fox, as a task']);
    await expect.poll(() => page.getByRole('list', { name: 'Images' }).getByRole('img').evaluateAll(allDecoded), { timeout: WAIT_MS }).toBe(true);
    await screenshot(page, 'account');
  });

  it('the other key sees its own things, not the first one', async () => {
    const { page, url } = world();
    const { alice, bob } = made;
    await signIn(page, url, bob.secret);
    await page.getByRole('link', { name: 'Account' }).click();
    await page.getByTestId('account-facts').getByText('bob').waitFor();
    const tasks = page.getByRole('table', { name: 'Tasks' });
    await tasks.getByText(bob.task).waitFor();
    expect(await tasks.textContent()).not.toContain(alice.task);
    expect(await shownPrompts(page)).toEqual(['a grey owl', 'a grey owl, as a task']);
  });

  it('reads in dark mode and at a narrow width', async () => {
    const { page } = world();
    await chooseTheme(page, 'dark');
    await screenshot(page, 'account-dark');
    await atNarrowWidth(page, async () => {
      await screenshot(page, 'account-narrow');
    });
    await chooseTheme(page, 'system');
  });
});
