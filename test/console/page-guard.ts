/**
 * What every page test checks besides its own assertions: the page broke no rule of the console's CSP and
 * threw nothing uncaught. Also the theme toggle and a narrow window, for the screenshots in light, dark and
 * at a phone's width.
 */
import type { Page } from 'playwright-core';
import { afterEach, beforeAll, expect } from 'vitest';
import type { ConsoleWorld } from './browser.js';

/** Records CSP violations and uncaught errors on the file's page; each test ends by expecting none. */
export function guardPage(world: () => ConsoleWorld): { violations: string[]; errors: string[] } {
  const seen = { violations: [] as string[], errors: [] as string[] };
  beforeAll(() => {
    const { page } = world();
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) seen.violations.push(message.text());
    });
    page.on('pageerror', (error) => void seen.errors.push(error.message));
  });
  afterEach(() => {
    const found = { violations: seen.violations.splice(0), errors: seen.errors.splice(0) };
    expect(found).toEqual({ violations: [], errors: [] });
  });
  return seen;
}

/** Clicks the theme toggle (system, light, dark, ...) until it shows `theme`. */
export async function chooseTheme(page: Page, theme: 'system' | 'light' | 'dark'): Promise<void> {
  const toggle = page.getByRole('button', { name: /^Theme: / });
  for (let i = 0; i < 3 && (await toggle.textContent()) !== `Theme: ${theme}`; i++) await toggle.click();
  expect(await toggle.textContent()).toBe(`Theme: ${theme}`);
}

/** Runs `body` in a window 420 px wide, then back to the screenshots' 1280x800. */
export async function atNarrowWidth(page: Page, body: () => Promise<void>): Promise<void> {
  await page.setViewportSize({ width: 420, height: 860 });
  try {
    await body();
  } finally {
    await page.setViewportSize({ width: 1280, height: 800 });
  }
}

interface LoadedImage {
  complete: boolean;
  naturalWidth: number;
}

/**
 * For `locator.evaluateAll`: every image is decoded, with a natural size. A function, not text: Playwright
 * runs text given to evaluateAll as an expression, never calling it.
 */
export const allDecoded = (images: LoadedImage[]): boolean => images.length > 0 && images.every((image) => image.complete && image.naturalWidth > 0);
