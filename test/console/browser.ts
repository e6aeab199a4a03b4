/**
 * The console's browser-test harness: the real gateway on port 0 serving the built console, driven by
 * the system's Chromium through playwright-core (never a downloaded browser). One browser per test file,
 * one page reused by its tests. Under CI=true a missing Chromium fails the suite; elsewhere it is skipped
 * with a message saying why.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe } from 'vitest';
import { TEST_ADMIN_KEY } from '../helpers/admin.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

export const CHROMIUM = '/usr/bin/chromium';
const ROOT = join(import.meta.dirname, '..', '..');
/**
 * Where the tests save each page's screenshot: test-results/screenshots/ (ignored by git), so a test
 * run leaves the tree as it was; `npm run screenshots` points it at docs/screenshots/ to refresh the
 * committed ones (README shows them).
 */
export const SCREENSHOTS = process.env.IMAGEGATE_SCREENSHOTS_DIR
  ? join(ROOT, process.env.IMAGEGATE_SCREENSHOTS_DIR)
  : join(ROOT, 'test-results', 'screenshots');

/** Waits that a busy 2-core machine may need: a page that shows up within this is fine. */
export const WAIT_MS = 30_000;

/**
 * describe() for a browser suite: runs when Chromium is there; under CI it runs regardless (and fails at
 * launch, loudly, when Chromium is missing); elsewhere it is skipped with the reason.
 */
export function describeInBrowser(name: string, body: () => void): void {
  const available = existsSync(CHROMIUM);
  if (!available && process.env.CI !== 'true') {
    process.stderr.write(`[console tests] skipped: ${CHROMIUM} is missing (apt-get install -y chromium); CI=true would fail instead\n`);
  }
  describe.skipIf(!available && process.env.CI !== 'true')(name, body);
}

/** Builds the console when web/ is newer than dist/console/ (one builder at a time: scripts/ensure-build.js). */
export function ensureConsoleBuilt(): void {
  const result = spawnSync(process.execPath, [join(ROOT, 'scripts', 'ensure-build.js'), '--console'], { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`the console did not build (ensure-build exited ${result.status ?? result.signal})`);
}

export interface ConsoleWorld {
  gw: TestGateway;
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** The console's address on this gateway: origin + /console/. */
  url: string;
  /** What the browser refused under the console's Content-Security-Policy, as it logged it: should stay empty. */
  cspViolations: string[];
}

/**
 * Starts the gateway (with the tests' admin key, plus `env`, or what `env()` makes once the file's own
 * beforeAll hooks before this one have run: a simulator's config file) and a browser for the file; `world()`
 * gives them to the tests. The page is 1280x800, the size of the screenshots in docs/.
 */
export function useConsoleWorld(env: Record<string, string> | (() => Promise<Record<string, string>>) = {}): () => ConsoleWorld {
  let world: ConsoleWorld | undefined;
  beforeAll(async () => {
    ensureConsoleBuilt();
    const gw = await startGateway({ IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY, ...(typeof env === 'function' ? await env() : env) });
    let browser: Browser;
    try {
      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    } catch (err) {
      await gw.close();
      throw new Error(`Chromium did not start from ${CHROMIUM}: ${(err as Error).message}`);
    }
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    context.setDefaultTimeout(WAIT_MS);
    const page = await context.newPage();
    const cspViolations: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
    });
    world = { gw, browser, context, page, url: `${gw.origin}/console/`, cspViolations };
  }, 240_000);
  // What the page showed when a test failed, for whoever reads the failure.
  afterEach(async (context) => {
    if (context.task.result?.state !== 'fail' || !world) return;
    const path = join(tmpdir(), `console-failure-${context.task.name.replace(/\W+/g, '-').slice(0, 60)}.png`);
    await world.page.screenshot({ path }).catch(() => undefined);
    process.stderr.write(`[console tests] the page at the failure: ${path}\n`);
  });
  afterAll(async () => {
    await world?.browser.close();
    await world?.gw.close();
  });
  return () => {
    if (!world) throw new Error('the console world has not started');
    return world;
  };
}

/** Signs in on a fresh load of the console (a sign-out first, if a session was left in the tab). */
export async function signIn(page: Page, url: string, key: string, options: { remember?: boolean } = {}): Promise<void> {
  await page.goto(url);
  const signOut = page.getByRole('button', { name: 'Sign out' });
  if (await signOut.isVisible()) await signOut.click();
  await page.getByLabel('Key').fill(key);
  if (options.remember) await page.getByLabel(/Remember for this tab/).check();
  await page.getByRole('button', { name: 'Sign in' }).click();
  // The key is checked against the gateway before it is kept: a navigation before that lands on
  // the sign-in form again (seen on a busy machine). Signed in, or the gateway's refusal shown.
  await page.getByRole('button', { name: 'Sign out' }).or(page.getByRole('alert')).first().waitFor({ timeout: WAIT_MS });
}

/** A screenshot of what the page shows, into SCREENSHOTS (1280x800 PNG). */
export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
}
