#!/usr/bin/env node
// Runs the compiled build (dist/bundle/, what `npm start` runs) when it is current. From a checkout
// whose sources changed since the last build, or that was never built, it runs the TypeScript
// sources through tsx instead: nothing stale, and no build step needed first.
import { buildIsCurrent } from '../scripts/ensure-build.js';

if (buildIsCurrent()) {
  await import('../dist/bundle/cli.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli.ts');
}
