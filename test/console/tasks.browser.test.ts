/**
 * The tasks page in a real browser against the demo channel: an empty list says how to submit one; a task
 * submitted in new-api's async mode shows in the list with its live state, and its timeline shows the
 * submission, the channel attempt and the webhook attempt a local receiver answered; "Resend webhook" adds
 * another attempt, and a task without a callback shows the gateway's 409; Older and Newer page by cursor, so
 * the older page does not slide while new tasks arrive.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { adminJson, TEST_ADMIN_KEY } from '../helpers/admin.js';
import { postJson } from '../helpers/gateway.js';
import { describeInBrowser, screenshot, signIn, useConsoleWorld, WAIT_MS } from './browser.js';
import { allDecoded, atNarrowWidth, chooseTheme, guardPage } from './page-guard.js';

describeInBrowser('console tasks', () => {
  vi.setConfig({ testTimeout: 120_000 });
  const hooks: string[] = [];
  const receiver = createServer((req, res) => {
    hooks.push(req.headers['webhook-id'] as string);
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
  let hookUrl = '';
  beforeAll(async () => {
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  });
  afterAll(() => new Promise<void>((resolve) => receiver.close(() => resolve())));
  const world = useConsoleWorld({ IMAGEGATE_ALLOW_PRIVATE_URLS: '127.0.0.1', IMAGEGATE_TASK_POLL: '50ms' });
  guardPage(world);

  async function submit(body: Record<string, unknown>): Promise<string> {
    const { gw } = world();
    const res = await postJson(gw, '/v1/images/generations', { model: 'dall-e-2', size: '256x256', ...body }, { 'x-new-api-async-task': 'true' });
    expect(res.status).toBe(200);
    return String((res.json?.data as { task_id: string }).task_id);
  }

  async function openTasks() {
    const { page, url } = world();
    await signIn(page, url, TEST_ADMIN_KEY);
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Tasks' }).click();
    await page.getByRole('heading', { level: 1, name: 'Tasks' }).waitFor();
    return page;
  }

  it('an empty list says how to submit a task', async () => {
    const page = await openTasks();
    await page.getByRole('heading', { name: 'No tasks yet' }).waitFor();
    expect(await page.getByRole('main').textContent()).toContain('X-New-Api-Async-Task: true');
    await page.getByRole('main').getByRole('link', { name: 'Playground' }).waitFor();
  });

  it('a task shows in the list and its timeline: the channel attempt, the result and the webhook attempt; resend adds one', async () => {
    const { gw } = world();
    const page = await openTasks();
    const id = await submit({ prompt: 'a lantern in the fog', callback_url: hookUrl });
    const row = page.getByRole('row').filter({ has: page.getByRole('button', { name: id }) });
    await page.getByRole('button', { name: 'Refresh' }).click();
    await row.waitFor();
    await row.getByText('succeeded').waitFor();

    await page.getByRole('button', { name: id }).click();
    const detail = page.getByRole('complementary', { name: 'Task detail' });
    const timeline = detail.getByRole('list', { name: 'Timeline' });
    await timeline.locator('[data-kind="submitted"]').waitFor();
    const attempt = timeline.locator('[data-kind="channel_attempt"]');
    await attempt.first().waitFor();
    expect(await attempt.first().textContent()).toMatch(/Channel attempt\s*demo\s*ok/);
    await timeline.locator('[data-kind="finished"]').waitFor();
    const webhookAttempts = timeline.locator('[data-kind="webhook_attempt"]');
    await expect.poll(() => webhookAttempts.count(), { timeout: WAIT_MS }).toBe(1);
    expect(await webhookAttempts.first().textContent()).toContain('HTTP 204');
    const results = detail.getByRole('list', { name: 'Result images' }).locator('img');
    await expect.poll(() => results.evaluateAll(allDecoded), { timeout: WAIT_MS }).toBe(true);
    // The events in the order they happened.
    const kinds = await timeline
      .locator('li')
      .evaluateAll((items: { getAttribute(name: string): string | null }[]) => items.map((item) => item.getAttribute('data-kind')));
    expect(kinds.indexOf('submitted')).toBe(0);
    expect(kinds.indexOf('channel_attempt')).toBeLessThan(kinds.indexOf('finished'));
    expect(kinds.indexOf('finished')).toBeLessThan(kinds.indexOf('webhook_attempt'));
    await screenshot(page, 'tasks');

    await detail.getByRole('button', { name: 'Resend webhook' }).click();
    await expect.poll(() => webhookAttempts.count(), { timeout: WAIT_MS }).toBe(2);
    expect(hooks).toHaveLength(2);
    expect(new Set(hooks).size).toBe(2); // a resend has a webhook-id of its own
    const task = (await adminJson(gw.origin, 'GET', `/admin/api/tasks/${id}`)) as { webhook_deliveries: { resend: boolean }[] };
    expect(task.webhook_deliveries.map((d) => d.resend)).toEqual([false, true]);
  });

  it('a resend the gateway refuses shows its 409', async () => {
    const { gw, page } = world();
    const id = await submit({ prompt: 'no one is listening' });
    await expect.poll(async () => (await adminJson(gw.origin, 'GET', `/admin/api/tasks/${id}`)).state, { timeout: WAIT_MS }).toBe('succeeded');
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.getByRole('button', { name: id }).click();
    const detail = page.getByRole('complementary', { name: 'Task detail' });
    await detail.getByRole('heading', { name: new RegExp(id) }).waitFor();
    await detail.locator('[data-kind="finished"]').waitFor();
    await detail.getByRole('button', { name: 'Resend webhook' }).click();
    const alert = detail.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('task_without_callback');
    // A filter by state narrows the list to what matches.
    await page.getByLabel('State').selectOption('failed');
    await page.getByRole('heading', { name: 'No tasks match' }).waitFor();
    await page.getByLabel('State').selectOption('succeeded');
    await expect.poll(() => page.getByRole('row').count(), { timeout: WAIT_MS }).toBe(3);
  });

  it('reads in dark mode and at a phone width', async () => {
    const { page } = world();
    await chooseTheme(page, 'dark');
    await screenshot(page, 'tasks-dark');
    await atNarrowWidth(page, async () => {
      await screenshot(page, 'tasks-narrow');
    });
    await chooseTheme(page, 'system');
  });

  it('Older and Newer page by cursor: the older page stays the same while new tasks arrive', async () => {
    const { gw } = world();
    const before = ((await adminJson(gw.origin, 'GET', '/admin/api/tasks?limit=1000')).data as { id: string }[]).map((task) => task.id);
    for (let i = before.length; i < 52; i++) await submit({ prompt: `a lighthouse, ${i}` });
    const all = ((await adminJson(gw.origin, 'GET', '/admin/api/tasks?limit=1000')).data as { id: string }[]).map((task) => task.id);
    expect(all).toHaveLength(52);
    const page = await openTasks();
    const rows = page.getByRole('row');
    await expect.poll(() => rows.count(), { timeout: WAIT_MS }).toBe(51); // the header and 50 tasks
    await page.getByRole('button', { name: 'Older' }).click();
    await expect.poll(() => rows.count(), { timeout: WAIT_MS }).toBe(3);
    for (const id of all.slice(50)) await page.getByRole('button', { name: id }).waitFor();
    // Three newer tasks: the older page, asked again, is the same two (an offset of 50 would now show five).
    for (const i of [1, 2, 3]) await submit({ prompt: `a late lighthouse, ${i}` });
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect.poll(() => page.getByRole('button', { name: 'Refresh' }).isEnabled(), { timeout: WAIT_MS }).toBe(true);
    expect(await rows.count()).toBe(3);
    for (const id of all.slice(50)) expect(await page.getByRole('button', { name: id }).count()).toBe(1);
    expect(await page.getByRole('button', { name: 'Older' }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: 'Newer' }).click();
    await expect.poll(() => rows.count(), { timeout: WAIT_MS }).toBe(51);
    expect(await page.getByRole('button', { name: 'Newer' }).isDisabled()).toBe(true);
  });
});
