/**
 * A task's lease keeps other workers off it while its run goes on, renewed as it runs. When the
 * renewals do not land (the event loop stalled past the lease, the database refused them), the
 * lease lapses while the run goes on: another instance may take the task over, as after a crash,
 * but the instance still running it must not claim it again, or the second run asks the upstream
 * a second time.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { closeAfterEach, later, onCleanup } from './helpers/cleanup.js';
import { relayChannel, writeConfigFile } from './helpers/config-file.js';
import { postJson, startGateway } from './helpers/gateway.js';

closeAfterEach();

const tinyPng = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#07c' } })
  .png()
  .toBuffer();

/** An OpenAI-compatible upstream that answers each generation after `delayMs`; counts them. */
async function slowUpstream(delayMs: number): Promise<{ baseURL: string; generations: () => number }> {
  let generations = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/images/generations') generations += 1;
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ created: Math.floor(Date.now() / 1000), data: [{ b64_json: tinyPng.toString('base64') }] }));
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, generations: () => generations };
}

describe('a lease that lapses while its run goes on', () => {
  it('is not claimed again by the instance running it: the upstream is asked once', async () => {
    // The upstream takes 1.5 s; the lease is 300 ms and no renewal lands, so it lapses at once.
    const upstream = await slowUpstream(1_500);
    const file = await writeConfigFile({ channels: [relayChannel('slow', upstream.baseURL)] });
    const gw = later(await startGateway({ IMAGEGATE_CONFIG: file, IMAGEGATE_TASK_LEASE: '300ms', IMAGEGATE_TASK_POLL: '50ms', IMAGEGATE_TASK_WORKERS: '4' }));
    const { db } = gw.app.database;
    // Renewals (an update of a running task's lease that is not a claim) are refused.
    await sql`CREATE TRIGGER refuse_renewals BEFORE UPDATE OF lease_until ON tasks WHEN OLD.status = 'running' AND NEW.status = 'running' AND NEW.attempts = OLD.attempts BEGIN SELECT RAISE(ABORT, 'injected: lease renewal refused'); END`.execute(
      db,
    );

    const res = await postJson(
      gw,
      '/v1/images/generations',
      { prompt: 'once', size: '1024x1024', response_format: 'b64_json' },
      { 'x-new-api-async-task': 'true' },
    );
    expect(res.status).toBe(200);
    const id = String((res.json?.data as { task_id: string }).task_id);
    const task = () => db.selectFrom('tasks').select(['status', 'attempts', 'lease_until']).where('id', '=', id).executeTakeFirstOrThrow();
    // Running with its lease lapsed (idle workers poll every 50 ms meanwhile)...
    await expect
      .poll(
        async () => {
          const t = await task();
          return t.status === 'running' && (t.lease_until ?? 0) < Date.now();
        },
        { timeout: 10_000 },
      )
      .toBe(true);
    // ...and then it ends.
    await expect.poll(async () => (await task()).status, { timeout: 20_000 }).toMatch(/^(succeeded|failed)$/);
    expect(await task()).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(upstream.generations()).toBe(1);
  });
});
