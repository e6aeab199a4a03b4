/**
 * Light/dark: the system's choice (prefers-color-scheme) unless the toggle picked one. The choice is a display
 * preference, not a secret, so it is kept in localStorage (keys never are).
 */
import { useEffect, useState } from 'react';

export type ThemeChoice = 'system' | 'light' | 'dark';
const STORAGE_KEY = 'imagegate.console.theme';
const ORDER: readonly ThemeChoice[] = ['system', 'light', 'dark'];

function readChoice(): ThemeChoice {
  try {
    const stored = window.localStorage.getItem(STORAGE_KEY);
    return stored === 'light' || stored === 'dark' ? stored : 'system';
  } catch {
    return 'system';
  }
}

export function useTheme(): { choice: ThemeChoice; next(): void } {
  const [choice, setChoice] = useState<ThemeChoice>(readChoice);
  useEffect(() => {
    const root = document.documentElement;
    if (choice === 'system') root.removeAttribute('data-theme');
    else root.setAttribute('data-theme', choice);
    try {
      if (choice === 'system') window.localStorage.removeItem(STORAGE_KEY);
      else window.localStorage.setItem(STORAGE_KEY, choice);
    } catch {
      // No storage: the choice lasts as long as the page.
    }
  }, [choice]);
  return { choice, next: () => setChoice((c) => ORDER[(ORDER.indexOf(c) + 1) % ORDER.length] ?? 'system') };
}
