/**
 * The console in a real browser: served at /console/ with its CSP, sign-in with the admin key (every page
 * in the nav) or a client key (self-service only), a wrong key refused with the gateway's own message,
 * and sign-out forgetting the key.
 */
import { expect, it, vi } from 'vitest';
import { TEST_ADMIN_KEY } from '../helpers/admin.js';
import { describeInBrowser, screenshot, signIn, useConsoleWorld } from './browser.js';
import { STORAGE_COUNTS } from './in-page.js';

describeInBrowser('console sign-in', () => {
  // Generous: a busy 2-core machine renders slowly; every wait inside is for something to appear, never a sleep.
  vi.setConfig({ testTimeout: 90_000 });
  const world = useConsoleWorld();

  it('answers /console/ with a strict CSP, and the page runs under it (no CSP violation)', async () => {
    const { gw, page, url } = world();
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const root = await fetch(`${gw.origin}/`, { redirect: 'manual' });
    expect([root.status, root.headers.get('location')]).toEqual([302, '/console/']);
    const violations: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
    });
    await page.goto(url);
    await expect.poll(() => page.getByRole('heading', { name: 'imagegate console' }).isVisible()).toBe(true);
    await screenshot(page, 'sign-in');
    expect(violations).toEqual([]);
  });

  it('a wrong key is refused with the gateway own message', async () => {
    const { page, url } = world();
    await signIn(page, url, 'ig-not-a-real-key');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/Incorrect API key provided/);
    expect(await alert.textContent()).toContain('invalid_api_key');
  });

  it('the admin key sees every page; sign-out forgets it', async () => {
    const { page, url } = world();
    await signIn(page, url, TEST_ADMIN_KEY);
    const nav = page.getByRole('navigation', { name: 'Console' });
    await nav.getByRole('link', { name: 'Playground' }).waitFor();
    expect(await nav.getByRole('link').allTextContents()).toEqual(['Playground', 'Gallery', 'Tasks', 'Channels', 'Keys', 'Usage']);
    for (const name of ['Gallery', 'Tasks', 'Channels', 'Keys', 'Usage']) {
      await nav.getByRole('link', { name }).click();
      await page.getByRole('heading', { level: 1, name }).waitFor();
    }
    // A client-side route survives a reload (the gateway answers index.html for it) only while the key is remembered: it was not.
    await page.reload();
    await page.getByRole('heading', { name: 'imagegate console' }).waitFor();
    expect(await page.evaluate(STORAGE_COUNTS)).toEqual([0, 0]);
  });

  it('a client key sees only its self-service pages; remembered for the tab, it survives a reload', async () => {
    const { gw, page, url } = world();
    await signIn(page, url, gw.apiKey, { remember: true });
    const nav = page.getByRole('navigation', { name: 'Console' });
    await nav.getByRole('link', { name: 'Playground' }).waitFor();
    expect(await nav.getByRole('link').allTextContents()).toEqual(['Playground', 'Account']);
    await nav.getByRole('link', { name: 'Account' }).click();
    await page.getByTestId('account-facts').waitFor();
    expect(await page.getByTestId('account-facts').textContent()).toContain('unlimited');
    // Loaded afresh (the gateway answers index.html for the app's routes), an admin page's path is not there for this key.
    await page.goto(`${url}keys`);
    await page.getByRole('heading', { name: 'Not here' }).waitFor();
    expect(((await page.evaluate(STORAGE_COUNTS)) as number[])[0]).toBe(0);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'imagegate console' }).waitFor();
    expect(((await page.evaluate(STORAGE_COUNTS)) as number[])[1]).toBe(0);
  });
});
