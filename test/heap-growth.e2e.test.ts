/**
 * `imagegate serve` (the real CLI in a child process) says at start which heap growth it runs
 * with: the gateway's 4x, or the operator's own given to node, left alone.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { spawnGateway } from './helpers/child-gateway.js';
import { closeAfterEach, onCleanup } from './helpers/cleanup.js';

closeAfterEach();

/** The `heap` start-up line of a gateway whose node was started with `nodeFlags`. */
async function heapLine(nodeFlags: string[] = []): Promise<string> {
  const dataDir = await mkdtemp(join(tmpdir(), 'imagegate-heap-growth-'));
  onCleanup(() => rm(dataDir, { recursive: true, force: true }));
  const gw = await spawnGateway({ IMAGEGATE_DATA_DIR: dataDir, IMAGEGATE_API_KEYS: 'sk-heap-growth' }, undefined, nodeFlags);
  onCleanup(() => gw.stop());
  // Logged once listening, just after the line the helper waits for.
  const line = await vi.waitFor(() => {
    const found = gw
      .output()
      .split('\n')
      .find((l) => l.includes('"startup":"heap"'));
    if (found === undefined) throw new Error(`no heap line yet:\n${gw.output()}`);
    return found;
  });
  return (JSON.parse(line) as { msg: string }).msg;
}

describe('heap growth at start', () => {
  it('serve grows the heap 4x between full collections', async () => {
    expect(await heapLine()).toBe('heap: V8 grows it 4x between full collections (--heap-growing-percent=300; one given to node is kept instead)');
  });

  it("an operator's growth given to node is kept", async () => {
    expect(await heapLine(['--heap-growing-percent=0'])).toBe("heap: V8's growth as node's --heap-growing-percent sets it");
  });
});
