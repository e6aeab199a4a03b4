/** Things a test opened, closed after it in reverse order (register in the test file with afterEach). */
import { afterEach } from 'vitest';

const pending: (() => Promise<void>)[] = [];

/** Call once at the top of a test file: closes what `later`/`onCleanup` registered after each test. */
export function closeAfterEach(): void {
  afterEach(async () => {
    while (pending.length > 0) await pending.pop()?.();
  });
}

/** Closes `thing` after the current test; returns it. */
export function later<T extends { close(): Promise<void> }>(thing: T): T {
  pending.push(() => thing.close());
  return thing;
}

export function onCleanup(step: () => Promise<void>): void {
  pending.push(step);
}
