/**
 * The Channels page in a real browser against OpenAI simulators: the empty state, a channel added through the
 * form (kind picker = the gateway's kinds) and tested (ok, with a latency no shorter than the upstream's delay),
 * a channel whose upstream fails shows its breaker open (and until when) by polling, disable and delete.
 */
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { startOpenAISimulator, type RunningSimulator } from '../../sim/openai/simulator.js';
import { CHANNEL_KINDS } from '../../src/core/channel.js';
import { adminJson, TEST_ADMIN_KEY } from '../helpers/admin.js';
import { postJson } from '../helpers/gateway.js';
import { describeInBrowser, screenshot, signIn, useConsoleWorld, WAIT_MS } from './browser.js';
import { atNarrowWidth, chooseTheme, guardPage } from './page-guard.js';
import type { Page } from 'playwright-core';

/** The upstream's delay: a test's latency cannot be shorter. */
const UPSTREAM_LATENCY_MS = 300;

async function addChannel(
  page: Page,
  fields: { kind: string; name: string; baseUrl: string; apiKey: string; priority: string; weight: string; maxConcurrent: string },
) {
  const form = page.getByRole('form', { name: 'Add a channel' });
  await form.getByLabel('Kind').selectOption(fields.kind);
  await form.getByLabel('Name').fill(fields.name);
  await form.getByLabel('Base URL').fill(fields.baseUrl);
  await form.getByLabel(/API keys/).fill(fields.apiKey);
  await form.getByLabel('Priority').fill(fields.priority);
  await form.getByLabel('Weight').fill(fields.weight);
  await form.getByLabel(/Max concurrent/).fill(fields.maxConcurrent);
  await form.getByRole('button', { name: 'Create channel' }).click();
  await form.waitFor({ state: 'detached' });
}

describeInBrowser('console channels', () => {
  vi.setConfig({ testTimeout: 120_000 });
  let steady: RunningSimulator;
  let flaky: RunningSimulator;
  beforeAll(async () => {
    steady = await startOpenAISimulator({ apiKey: 'sk-steady', latencyMs: UPSTREAM_LATENCY_MS });
    flaky = await startOpenAISimulator();
  });
  afterAll(async () => {
    await steady?.close();
    await flaky?.close();
  });
  // One attempt per request and a breaker that opens after two failures and stays open while the test reads it.
  const world = useConsoleWorld({ IMAGEGATE_MAX_ATTEMPTS: '1', IMAGEGATE_BREAKER_THRESHOLD: '2', IMAGEGATE_BREAKER_COOLDOWN: '5m' });
  guardPage(world);

  it('shows the empty state, then adds a channel of a kind from the picker and tests it: ok, with its latency', async () => {
    const { page, url } = world();
    await signIn(page, url, TEST_ADMIN_KEY);
    await page.getByRole('link', { name: 'Channels' }).click();
    await page.getByRole('heading', { level: 1, name: 'Channels' }).waitFor();
    await page.getByText('The demo channel serves while none is set').waitFor();
    await screenshot(page, 'channels-empty');
    await page.getByRole('button', { name: 'Add your first channel' }).click();
    await page.getByRole('form', { name: 'Add a channel' }).waitFor();
    await screenshot(page, 'channels-form');
    // The picker offers exactly the kinds the gateway knows.
    const options = page.getByLabel('Kind').locator('option');
    const kinds = await Promise.all((await options.all()).map((option) => option.getAttribute('value')));
    expect(kinds).toEqual([...CHANNEL_KINDS]);
    await addChannel(page, { kind: 'openai', name: 'steady', baseUrl: steady.baseURL, apiKey: 'sk-steady', priority: '1', weight: '2', maxConcurrent: '3' });
    const row = page.getByRole('row', { name: 'steady' });
    await row.waitFor();
    expect(await row.getByRole('cell').allTextContents()).toEqual(expect.arrayContaining(['1', '2', '0 / 3']));
    expect(await row.getByTestId('last-test').textContent()).toBe('not tested');
    await row.getByRole('button', { name: 'Test steady' }).click();
    const lastTest = row.getByTestId('last-test');
    await expect.poll(() => lastTest.textContent(), { timeout: WAIT_MS }).toMatch(/^ok \d+ ms/);
    const latency = Number(/ok (\d+) ms/.exec((await lastTest.textContent()) ?? '')?.[1]);
    expect(latency).toBeGreaterThanOrEqual(UPSTREAM_LATENCY_MS);
    // The test went upstream, with the key typed in the form.
    expect(steady.sim.requests.length).toBe(1);
    expect(steady.sim.requests[0]?.headers.authorization).toBe('Bearer sk-steady');
  });

  it('a channel whose upstream fails shows its breaker open, and until when, without a reload', async () => {
    const { gw, page } = world();
    await page.getByRole('button', { name: 'Add a channel' }).click();
    await addChannel(page, {
      kind: 'openai-compatible',
      name: 'flaky',
      baseUrl: flaky.baseURL,
      apiKey: 'sk-flaky',
      priority: '10',
      weight: '1',
      maxConcurrent: '0',
    });
    const row = page.getByRole('row', { name: 'flaky' });
    await row.getByText('breaker closed').waitFor();
    flaky.sim.enqueueFault({ kind: 'status', status: 500 }, { kind: 'status', status: 500 });
    const small = { model: 'dall-e-2', prompt: 'a kite', size: '256x256', response_format: 'b64_json' };
    for (let i = 0; i < 2; i++) expect((await postJson(gw, '/v1/images/generations', small)).status).toBeGreaterThanOrEqual(500);
    // The page polls: the open breaker shows up by itself.
    await row.getByText('breaker open').waitFor();
    expect(await row.textContent()).toMatch(/until \d/);
    expect(await row.textContent()).toContain('2 failures in a row');
    await page.getByRole('row', { name: 'steady' }).getByText('breaker closed').waitFor();
    await screenshot(page, 'channels');
  });

  it('edits, disables and deletes a channel (after a confirmation)', async () => {
    const { page } = world();
    const row = page.getByRole('row', { name: 'flaky' });
    await row.getByRole('button', { name: 'Edit flaky' }).click();
    const form = page.getByRole('form', { name: 'Edit flaky' });
    await form.getByLabel('Weight').fill('4');
    await form.getByRole('button', { name: 'Save channel' }).click();
    await form.waitFor({ state: 'detached' });
    await expect.poll(() => row.getByRole('cell').allTextContents(), { timeout: WAIT_MS }).toContain('4');
    await row.getByRole('button', { name: 'Disable flaky' }).click();
    await row.getByText('disabled', { exact: true }).waitFor();
    await row.getByRole('button', { name: 'Enable flaky' }).waitFor();
    // A refused confirmation keeps it; an accepted one deletes it.
    page.once('dialog', (dialog) => void dialog.dismiss());
    await row.getByRole('button', { name: 'Delete flaky' }).click();
    await expect.poll(() => row.count()).toBe(1);
    page.once('dialog', (dialog) => void dialog.accept());
    await row.getByRole('button', { name: 'Delete flaky' }).click();
    await row.waitFor({ state: 'detached' });
    await page.getByRole('row', { name: 'steady' }).waitFor();
  });

  it("a refused key: Test shows the upstream's error; a request disables that key, and the row says why", async () => {
    const { gw, page } = world();
    await page.getByRole('button', { name: 'Add a channel' }).click();
    // The steady upstream takes only sk-steady: the first key (the one Test uses) is refused.
    await addChannel(page, {
      kind: 'openai',
      name: 'refused',
      baseUrl: steady.baseURL,
      apiKey: 'sk-wrong\nsk-steady',
      priority: '20',
      weight: '1',
      maxConcurrent: '0',
    });
    const row = page.getByRole('row', { name: 'refused' });
    await row.getByText('2 keys').waitFor();
    await row.getByRole('button', { name: 'Test refused' }).click();
    await row.getByTestId('last-test').getByText('failed').waitFor();
    expect(await row.getByTestId('last-test').textContent()).toMatch(/401/);
    // Requests take the keys in turn: the refused one is disabled on its first 401.
    const small = { model: 'dall-e-2', prompt: 'a kite', size: '256x256', response_format: 'b64_json' };
    const disabledKeys = async () => {
      const channels = (await adminJson(gw.origin, 'GET', '/admin/api/channels')) as {
        data: { name: string; api_keys: { disabled_reason: string | null }[] }[];
      };
      return channels.data.find((c) => c.name === 'refused')?.api_keys.filter((k) => k.disabled_reason !== null).length ?? 0;
    };
    for (let i = 0; i < 6 && (await disabledKeys()) === 0; i++) await postJson(gw, '/v1/images/generations', small);
    expect(await disabledKeys()).toBe(1);
    await row.getByText(/disabled: .*401/).waitFor();
    await screenshot(page, 'channels-refused-key');
    page.once('dialog', (dialog) => void dialog.accept());
    await row.getByRole('button', { name: 'Delete refused' }).click();
    await row.waitFor({ state: 'detached' });
  });

  it('reads in dark mode and at a narrow width', async () => {
    const { page } = world();
    await chooseTheme(page, 'dark');
    await screenshot(page, 'channels-dark');
    await atNarrowWidth(page, async () => {
      await page.getByRole('heading', { level: 1, name: 'Channels' }).waitFor();
      await screenshot(page, 'channels-narrow');
    });
    await chooseTheme(page, 'system');
  });
});
