#!/usr/bin/env node
// `npm start`: builds what is missing or stale (scripts/ensure-build.js), then runs the bundle,
// dist/bundle/cli.js, in this same process with the same arguments (`serve`). One node process
// instead of two (a prestart hook was npm, a shell and a node of its own before the server's):
// ~0.1 s of every start. Plain JavaScript: it runs before anything is compiled.
import { ensureBuilt } from './ensure-build.js';

ensureBuilt();
await import('../dist/bundle/cli.js');
