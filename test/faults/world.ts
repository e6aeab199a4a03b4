/**
 * The fault suite's world: three gateway processes sharing a PostgreSQL cluster and a Redis
 * server of their own (so both can be stopped and killed), an async upstream, a flaky sync
 * upstream, and a webhook receiver that counts what it is given.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { startNewApiAsyncSimulator, type RunningNewApiAsyncSimulator } from '../../sim/newapi-async.js';
import { startOpenAISimulator, type RunningSimulator } from '../../sim/openai/simulator.js';
import { TEST_ADMIN_KEY, adminJson } from '../helpers/admin.js';
import { spawnGateway, spawnGateways, type ChildGateway } from '../helpers/child-gateway.js';
import { writeConfigFile } from '../helpers/config-file.js';
import { createPgCluster, type PgCluster } from '../helpers/pg-cluster.js';
import { startRedisServer, type TestRedisServer } from '../helpers/redis-server.js';

/** What an async task upstream takes; longer than the async channel's own timeout on purpose. */
export const UPSTREAM_TASK_MS = 4_000;
export const ASYNC_CHANNEL_TIMEOUT_S = 2;

/** Counts 2xx deliveries per task; can be told to refuse for a while (503). */
export class WebhookReceiver {
  readonly delivered = new Map<string, number>();
  refused = 0;
  private down = false;
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<WebhookReceiver> {
    let receiver: WebhookReceiver | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => receiver?.take(Buffer.concat(chunks).toString('utf8'), res));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    receiver = new WebhookReceiver(server, `http://127.0.0.1:${port}/hook`);
    return receiver;
  }

  setDown(down: boolean): void {
    this.down = down;
  }

  private take(body: string, res: import('node:http').ServerResponse): void {
    if (this.down) {
      this.refused += 1;
      res.writeHead(503).end();
      return;
    }
    const id = taskIdOf(body);
    if (id) this.delivered.set(id, (this.delivered.get(id) ?? 0) + 1);
    res.writeHead(200).end('ok');
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** The task id in either dialect's callback body. */
function taskIdOf(body: string): string | null {
  try {
    const json = JSON.parse(body) as { data?: { taskId?: string; task_id?: string }; task_id?: string; taskId?: string };
    return json.data?.taskId ?? json.data?.task_id ?? json.task_id ?? json.taskId ?? null;
  } catch {
    return null;
  }
}

export interface FaultWorld {
  pg: PgCluster;
  redis: TestRedisServer;
  asyncUpstream: RunningNewApiAsyncSimulator;
  flakyUpstream: RunningSimulator;
  receiver: WebhookReceiver;
  gateways: ChildGateway[];
  /** Every instance's environment, to start a replacement for one that was killed. */
  env: Record<string, string>;
  key: { id: string; secret: string };
  /** Gateways that exited without the suite asking them to. */
  crashed(): number;
  /** SIGKILLs instance `index` (a crash on purpose) and starts a replacement in its place. */
  killAndReplace(index: number): Promise<void>;
  close(): Promise<void>;
}

export const INSTANCES = 3;
/** Credits the suite's key starts with: far more than any run spends. */
export const START_CREDITS_USD = 10_000;

export async function createFaultWorld(): Promise<FaultWorld> {
  const pg = await createPgCluster();
  const databaseUrl = await pg.createDatabase('faults');
  const redis = await startRedisServer();
  const asyncUpstream = await startNewApiAsyncSimulator({ apiKey: 'nk', taskDurationMs: UPSTREAM_TASK_MS });
  const flakyUpstream = await startOpenAISimulator({ latencyMs: 50 });
  const receiver = await WebhookReceiver.start();
  const config = await writeConfigFile({
    channels: [
      {
        name: 'async',
        kind: 'newapi-async',
        base_url: `${asyncUpstream.origin}/v1`,
        api_key: 'nk',
        models: ['dall-e-2'],
        poll_interval: 0.5,
        timeout: ASYNC_CHANNEL_TIMEOUT_S,
      },
      { name: 'flaky', kind: 'openai-compatible', base_url: flakyUpstream.baseURL, api_key: 'sk', models: ['gpt-image-1'] },
    ],
  });
  const env = {
    DATABASE_URL: databaseUrl,
    REDIS_URL: redis.url,
    IMAGEGATE_REDIS_PREFIX: `faults-${randomBytes(4).toString('hex')}`,
    IMAGEGATE_URL_SECRET: randomBytes(32).toString('base64url'),
    IMAGEGATE_SECRET_KEY: randomBytes(32).toString('base64'),
    IMAGEGATE_ADMIN_KEY: TEST_ADMIN_KEY,
    IMAGEGATE_CONFIG: config,
    IMAGEGATE_ALLOW_PRIVATE_URLS: 'true',
    IMAGEGATE_TASK_WORKERS: '20',
    // Longer than the outages the suite makes, as the default (30 s) is: a run that cannot renew
    // its lease for a few seconds keeps its task. A killed instance's tasks wait this long.
    IMAGEGATE_TASK_LEASE: '8s',
    IMAGEGATE_TASK_POLL: '500ms',
    IMAGEGATE_DB_STARTUP_WAIT: '60s',
    IMAGEGATE_DEMO_DELAY: '0',
  };
  let gateways: ChildGateway[];
  try {
    gateways = await spawnGateways(INSTANCES, env);
  } catch (err) {
    // Nothing else is left running: the database cluster and Redis are processes of their own.
    await Promise.all([asyncUpstream.close(), flakyUpstream.close(), receiver.close()]);
    await redis.stop().catch(() => undefined);
    await pg.remove();
    throw err;
  }
  const expectedExits = new Set<ChildGateway>();
  const created = await adminJson(gateways[0]!.origin, 'POST', '/admin/api/keys', { name: 'faults', credits: START_CREDITS_USD });
  const world: FaultWorld = {
    pg,
    redis,
    asyncUpstream,
    flakyUpstream,
    receiver,
    gateways,
    env,
    key: { id: String(created.id), secret: String(created.key) },
    crashed: () => world.gateways.filter((g) => !expectedExits.has(g) && (g.child.exitCode !== null || g.child.signalCode !== null)).length,
    async killAndReplace(index) {
      const victim = world.gateways[index];
      if (!victim) throw new Error(`no instance ${index}`);
      expectedExits.add(victim);
      const exited = new Promise((resolve) => victim.child.once('exit', resolve));
      victim.child.kill('SIGKILL');
      await exited;
      world.gateways[index] = await spawnGateway(env);
    },
    async close() {
      await Promise.all(world.gateways.map((g) => g.stop().catch(() => undefined)));
      await Promise.all([asyncUpstream.close(), flakyUpstream.close(), receiver.close()]);
      await redis.stop().catch(() => undefined);
      await pg.remove();
    },
  };
  return world;
}
