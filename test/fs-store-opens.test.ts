/**
 * Images arriving together (FsImageStore.openWrite): their files' opens and closes go through the
 * thread pool while it has room and on the event loop past that (storage/fs-store.ts says why).
 * Either way each file holds its image exactly, an abort leaves nothing, before or after the
 * close, and no file descriptor stays open (they are plain numbers now: nothing would ever close a
 * leaked one).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { FsImageStore } from '../src/storage/fs-store.js';

let root = '';
let store: FsImageStore;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'imagegate-store-opens-'));
  store = new FsImageStore(root);
});
afterEach(async () => {
  await store.close();
  await rm(root, { recursive: true, force: true });
});

const nameOf = (i: number) => `Q${String(i).padStart(3, '0')}${'x'.repeat(18)}.png`;
const pathOf = (i: number) => join(root, nameOf(i).slice(0, 2), nameOf(i));

it('forty images opened at once (ten times the thread pool) are each stored exactly', async () => {
  const images = Array.from({ length: 40 }, (_, i) => randomBytes(1000 + i * 997));
  const sinks = images.map((_, i) => store.openWrite(nameOf(i)));
  // Every image's first write at once: most opens find the pool busy.
  await Promise.all(sinks.map((sink, i) => sink.write([(images[i] as Buffer).subarray(0, 500)])));
  await Promise.all(sinks.map((sink, i) => sink.write([(images[i] as Buffer).subarray(500)])));
  await Promise.all(sinks.map((sink) => sink.close()));
  for (const [i, image] of images.entries()) expect((await readFile(pathOf(i))).equals(image)).toBe(true);
});

it('aborted, whether it was closed or not, an image leaves no file', async () => {
  const sinks = Array.from({ length: 12 }, (_, i) => store.openWrite(nameOf(i)));
  await Promise.all(sinks.map((sink) => sink.write([randomBytes(5000)])));
  await Promise.all(sinks.slice(0, 6).map((sink) => sink.close()));
  await Promise.all(sinks.map((sink) => sink.abort()));
  for (let i = 0; i < 12; i++) expect(existsSync(pathOf(i))).toBe(false);
});

/** This process's open file descriptors (vitest runs each test file in a process of its own). */
async function openDescriptors(): Promise<number> {
  return (await readdir('/proc/self/fd')).length;
}

it('no descriptor stays open, whether an image was closed, aborted after its close, or aborted mid-way', async () => {
  // A first image makes the shard folders' bookkeeping (a readdir) settle before the count.
  const first = store.openWrite(nameOf(99));
  await first.write([randomBytes(100)]);
  await first.close();
  const before = await openDescriptors();
  const sinks = Array.from({ length: 30 }, (_, i) => store.openWrite(nameOf(i)));
  await Promise.all(sinks.map((sink) => sink.write([randomBytes(3000)])));
  expect(await openDescriptors()).toBeGreaterThanOrEqual(before + 30);
  await Promise.all(sinks.slice(0, 20).map((sink) => sink.close()));
  await Promise.all(sinks.slice(10).map((sink) => sink.abort()));
  expect(await openDescriptors()).toBe(before);
  for (let i = 0; i < 30; i++) expect(existsSync(pathOf(i))).toBe(i < 10);
});
