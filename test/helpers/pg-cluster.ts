/**
 * A PostgreSQL server of the test's own (initdb + pg_ctl, data under the temp dir, a free port),
 * so a test may stop, start and kill it without touching the shared server. As root, the
 * binaries run as the `postgres` user (initdb refuses root). Under CI=true the binaries must be
 * there (the suite fails otherwise); elsewhere a missing one skips the suite with a message.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './free-port.js';

const run = promisify(execFile);

export interface PgCluster {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  start(): Promise<void>;
  /** `fast`: what an orderly restart or failover does (sessions are ended, then it stops). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** A new empty database in the cluster; answers its URL. */
  createDatabase(name: string): Promise<string>;
  /** Ends every other session in `url`'s database, as an operator or a pooler restart would; answers how many. */
  terminateSessions(url?: string): Promise<number>;
  /** The server log so far, for failure messages. */
  log(): Promise<string>;
  remove(): Promise<void>;
}

interface Binaries {
  initdb: string;
  pgCtl: string;
  /** Prefix that runs a binary as the postgres user when we are root. */
  asUser: string[];
}

function findBinaries(): Binaries | string {
  const fromPath = (name: string) =>
    (process.env.PATH ?? '')
      .split(':')
      .map((dir) => join(dir, name))
      .find((file) => existsSync(file));
  const versions = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a)) : [];
  const fromLib = (name: string) => versions.map((v) => join('/usr/lib/postgresql', v, 'bin', name)).find((file) => existsSync(file));
  const initdb = fromPath('initdb') ?? fromLib('initdb');
  const pgCtl = fromPath('pg_ctl') ?? fromLib('pg_ctl');
  if (!initdb || !pgCtl) return 'initdb and pg_ctl are not installed (PATH or /usr/lib/postgresql/*/bin)';
  if (process.getuid?.() !== 0) return { initdb, pgCtl, asUser: [] };
  const runuser = ['/usr/sbin/runuser', '/sbin/runuser', '/usr/bin/runuser'].find((file) => existsSync(file));
  if (!runuser) return 'running as root, and runuser (to run initdb as postgres) is missing';
  return { initdb, pgCtl, asUser: [runuser, '-u', 'postgres', '--'] };
}

/** True when the throwaway-cluster suites should run; throws under CI when they cannot. */
export async function pgClusterAvailable(): Promise<boolean> {
  const found = findBinaries();
  if (typeof found !== 'string') return true;
  if (process.env.CI === 'true') throw new Error(`a throwaway PostgreSQL cluster is required under CI=true: ${found}`);
  console.warn(`[imagegate tests] skipping throwaway-cluster suites: ${found}`);
  return false;
}

async function userIds(name: string): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([run('id', ['-u', name]), run('id', ['-g', name])]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** One short-lived client on `url` (errors after use are ignored: the server may be going away). */
export async function withPgClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on('error', () => {});
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Creates and starts the cluster. */
export async function createPgCluster(): Promise<PgCluster> {
  const bins = findBinaries();
  if (typeof bins === 'string') throw new Error(bins);
  const dir = await mkdtemp(join(tmpdir(), 'imagegate-pg-'));
  if (bins.asUser.length > 0) {
    const { uid, gid } = await userIds('postgres');
    await chown(dir, uid, gid);
  }
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const port = await freePort();
  const exec = async (bin: string, args: string[]) => {
    const [file, ...prefix] = [...bins.asUser, bin];
    return run(file ?? bin, [...prefix, ...args], { timeout: 60_000, cwd: dir });
  };
  await exec(bins.initdb, ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  // Small and fast: nothing here must survive a crash of the machine.
  const serverOptions = [
    `-p ${port}`,
    `-k ${dir}`,
    "-c listen_addresses='127.0.0.1'",
    '-c fsync=off',
    '-c full_page_writes=off',
    '-c max_connections=60',
    '-c shared_buffers=16MB',
  ].join(' ');
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const cluster: PgCluster = {
    url,
    port,
    async start() {
      await exec(bins.pgCtl, ['-D', data, '-l', logFile, '-w', '-t', '60', '-o', serverOptions, 'start']);
    },
    async stop(mode = 'fast') {
      await exec(bins.pgCtl, ['-D', data, '-m', mode, '-w', '-t', '60', 'stop']);
    },
    async createDatabase(name) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
      await withPgClient(url, (client) => client.query(`CREATE DATABASE ${name}`));
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    async terminateSessions(target = url) {
      const result = await withPgClient(target, (client) =>
        client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()'),
      );
      return result.rowCount ?? 0;
    },
    log: () => readFile(logFile, 'utf8').catch(() => ''),
    async remove() {
      await exec(bins.pgCtl, ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
  await cluster.start();
  return cluster;
}
