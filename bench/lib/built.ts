/**
 * The gateway and the pipe as the bench runs them: bundled from the sources into bench/.build/
 * (`node scripts/bundle.js --bench`), as `npm start` runs the gateway, once per bench process.
 * Under tsx each process (and each worker thread) also carries the TypeScript compiler's state:
 * tens of MB of RSS no deployment has.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
let built = false;

export type BuiltServer = 'gateway' | 'pipe';

/** The bundled server's file (the other servers stay TypeScript, run through tsx). */
export function builtServer(name: BuiltServer): string {
  if (!built) {
    execFileSync(process.execPath, [join(root, 'scripts', 'bundle.js'), '--bench'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    built = true;
  }
  return join(root, 'bench', '.build', `${name}.js`);
}
