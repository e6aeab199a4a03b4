/**
 * Once before any test file: the console is built (when web/ is newer than dist/console/), so every
 * file sees the same gateway. Without it, whichever file ran before the browser suites built it saw
 * /console/ answer its "not built" 503 (the fuzz suite's "no 5xx on any route" caught that).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export default function setup(): void {
  const root = join(import.meta.dirname, '..');
  const result = spawnSync(process.execPath, [join(root, 'scripts', 'ensure-build.js'), '--console'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`the console did not build (ensure-build exited ${result.status ?? result.signal})`);
}
