/**
 * Images written as they arrive (FsImageStore.openWrite) go straight into the page cache, on the
 * event loop (storage/fs-store.ts says why). A write the file system refuses is still a clean
 * failure: here the process's file size limit (`ulimit -f`, 100 blocks of 512 bytes) cuts the
 * image short, the write rejects with EFBIG, and abort leaves no file behind.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const run = promisify(execFile);
let root = '';

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'imagegate-store-write-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** The fixture under `ulimit -f blocks` (none: unlimited). */
async function writeImage(bytes: number, blocks?: number): Promise<{ error: string | null; size: number | null }> {
  const limit = blocks === undefined ? '' : `ulimit -f ${blocks}; `;
  const { stdout } = await run('sh', ['-c', `${limit}exec "$0" --import tsx test/fixtures/store-write.ts "$1" "$2"`, process.execPath, root, String(bytes)], {
    timeout: 60_000,
  });
  return JSON.parse(stdout) as { error: string | null; size: number | null };
}

describe('an image written as it arrives', () => {
  it('is stored whole, piece after piece', async () => {
    expect(await writeImage(300_000)).toEqual({ error: null, size: 300_000 });
  }, 60_000);

  it('that the file system refuses part way fails its write and leaves no file once aborted', async () => {
    expect(await writeImage(300_000, 100)).toEqual({ error: 'EFBIG', size: null });
  }, 60_000);
});
