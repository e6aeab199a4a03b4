/**
 * The Keys page in a real browser (the demo channel serves): create a key, read its secret from the page
 * (shown once, with a copy button), spend it through the public API and see the balance and the ledger move;
 * grant credits with a note; change limits; show and rotate the webhook secret; revoke after a confirmation.
 */
import OpenAI from 'openai';
import { expect, it, vi } from 'vitest';
import { adminJson, TEST_ADMIN_KEY } from '../helpers/admin.js';
import { describeInBrowser, screenshot, signIn, useConsoleWorld, WAIT_MS } from './browser.js';
import { atNarrowWidth, chooseTheme, guardPage } from './page-guard.js';

describeInBrowser('console keys', () => {
  vi.setConfig({ testTimeout: 120_000 });
  const world = useConsoleWorld();
  guardPage(world);
  let secret = '';

  it('creates a key and shows its secret once, with a copy button and a warning', async () => {
    const { context, page, url, gw } = world();
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: gw.origin });
    await signIn(page, url, TEST_ADMIN_KEY);
    await page.getByRole('link', { name: 'Keys' }).click();
    await page.getByRole('heading', { level: 1, name: 'Keys' }).waitFor();
    await page.getByRole('row', { name: 'test' }).waitFor();
    await page.getByRole('button', { name: 'Create a key' }).click();
    const form = page.getByRole('form', { name: 'Create a key' });
    await form.getByLabel('Name').fill('team-blue');
    await form.getByLabel(/Credits/).fill('2');
    await form.getByLabel('Requests per minute').fill('120');
    await form.getByRole('button', { name: 'Create key' }).click();
    await page.getByText('this is the only time the gateway shows it').waitFor();
    secret = (await page.getByTestId('new-secret').textContent()) ?? '';
    expect(secret.length).toBeGreaterThan(20);
    await page.getByRole('button', { name: 'Copy secret' }).click();
    await page.getByRole('button', { name: 'Copied', exact: true }).waitFor();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(secret);
    const row = page.getByRole('row', { name: 'team-blue' });
    await row.waitFor();
    expect(await row.getByTestId('balance').textContent()).toBe('$2.00');
    expect(await row.textContent()).toContain('120 rpm');
    expect(await row.textContent()).toContain(secret.slice(0, 6));
    await screenshot(page, 'keys-secret');
    // Once: dismissed, it is nowhere on the page, and the gateway's list never had it.
    await page.getByRole('button', { name: 'I have copied it' }).click();
    await page.getByTestId('new-secret').waitFor({ state: 'detached' });
    expect(await page.content()).not.toContain(secret);
    expect(JSON.stringify(await adminJson(gw.origin, 'GET', '/admin/api/keys'))).not.toContain(secret);
  });

  it('a generation with that secret moves the balance and the ledger on the page', async () => {
    const { page, gw } = world();
    const row = page.getByRole('row', { name: 'team-blue' });
    await row.getByRole('button', { name: 'Manage team-blue' }).click();
    const detail = page.getByRole('region', { name: 'Key team-blue' });
    const ledger = detail.getByRole('table', { name: 'Ledger' });
    await ledger.getByText('initial credits').waitFor();
    const client = new OpenAI({ apiKey: secret, baseURL: gw.baseURL, maxRetries: 0 });
    const answer = await client.images.generate({ model: 'dall-e-2', prompt: 'a blue kite', size: '256x256', response_format: 'url' });
    expect(answer.data).toHaveLength(1);
    // The page polls: the new balance and the request's charge appear by themselves.
    const spent = (await adminJson(gw.origin, 'GET', `/admin/api/keys?limit=100`)) as { data: { name: string; credits: number }[] };
    const credits = spent.data.find((k) => k.name === 'team-blue')?.credits ?? 2;
    expect(credits).toBeLessThan(2);
    await expect.poll(() => row.getByTestId('balance').textContent(), { timeout: WAIT_MS }).not.toBe('$2.00');
    expect(await detail.getByTestId('key-balance').textContent()).not.toBe('$2.00');
    await expect.poll(() => ledger.getByRole('row').count(), { timeout: WAIT_MS }).toBeGreaterThan(2);
    expect(await ledger.textContent()).toMatch(/reserve-\$0\.0\d+/);
  });

  it('grants credits with a note, changes limits, shows and rotates the webhook secret', async () => {
    const { page } = world();
    const detail = page.getByRole('region', { name: 'Key team-blue' });
    const grant = detail.getByRole('form', { name: 'Grant credits' });
    await grant.getByLabel(/Amount/).fill('3');
    await grant.getByLabel('Note').fill('top-up for the demo');
    await grant.getByRole('button', { name: 'Grant' }).click();
    await detail.getByRole('table', { name: 'Ledger' }).getByText('top-up for the demo').waitFor();
    await expect.poll(async () => Number((await detail.getByTestId('key-balance').textContent())?.replace('$', '')), { timeout: WAIT_MS }).toBeGreaterThan(4.9);
    const limits = detail.getByRole('form', { name: 'Limits' });
    await limits.getByLabel(/At once/).fill('2');
    await limits.getByLabel(/Allowed models/).fill('dall-e-2, gpt-image-1');
    await limits.getByRole('button', { name: 'Save limits' }).click();
    const row = page.getByRole('row', { name: 'team-blue' });
    await expect.poll(() => row.textContent(), { timeout: WAIT_MS }).toContain('2 at once');
    expect(await row.textContent()).toContain('models: dall-e-2, gpt-image-1');
    await detail.getByRole('button', { name: 'Show webhook secret' }).click();
    const shown = detail.getByTestId('webhook-secret');
    await expect.poll(() => shown.textContent(), { timeout: WAIT_MS }).toMatch(/^whsec_/);
    const before = await shown.textContent();
    page.once('dialog', (dialog) => void dialog.accept());
    await detail.getByRole('button', { name: 'Rotate webhook secret' }).click();
    await expect.poll(() => shown.textContent(), { timeout: WAIT_MS }).not.toBe(before);
    expect(await shown.textContent()).toMatch(/^whsec_/);
    await page.getByRole('heading', { level: 1, name: 'Keys' }).scrollIntoViewIfNeeded();
    await screenshot(page, 'keys');
  });

  it('revokes a key after a confirmation: it is refused from then on', async () => {
    const { page, gw } = world();
    const detail = page.getByRole('region', { name: 'Key team-blue' });
    page.once('dialog', (dialog) => void dialog.accept());
    await detail.getByRole('button', { name: 'Revoke key' }).click();
    const row = page.getByRole('row', { name: 'team-blue' });
    await row.getByText('revoked').waitFor();
    const res = await fetch(`${gw.baseURL}/models`, { headers: { authorization: `Bearer ${secret}` } });
    expect(res.status).toBe(401);
  });

  it('reads in dark mode and at a narrow width', async () => {
    const { page } = world();
    await page.getByRole('row', { name: 'test' }).getByRole('button', { name: 'Manage test' }).click();
    await chooseTheme(page, 'dark');
    await screenshot(page, 'keys-dark');
    await atNarrowWidth(page, async () => {
      await screenshot(page, 'keys-narrow');
    });
    await chooseTheme(page, 'system');
  });
});
