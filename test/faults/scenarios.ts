/**
 * The fault scenarios: each submits tasks spread over the instances, injects one fault while they
 * run, then waits for every accepted task to end and measures what the callers got.
 */
import type { SimFault } from '../../sim/openai/simulator.js';
import { adminJson } from '../helpers/admin.js';
import { START_CREDITS_USD, UPSTREAM_TASK_MS, type FaultWorld } from './world.js';
import { seededRandom } from '../helpers/seeded-random.js';

export interface ScenarioReport {
  name: string;
  /** Submissions answered with a task id. */
  accepted: number;
  /** 503 answers with Retry-After that submissions met and retried (the database or Redis away). */
  refusedRetryable: number;
  /** Submissions answered with anything else (a 500, a hang, a dropped connection). */
  submitErrors: string[];
  succeeded: number;
  failed: number;
  /** Why tasks failed, as their task views say. */
  failures: string[];
  /** Accepted tasks that never ended within the wait. */
  lost: number;
  /** Accepted tasks submitted upstream more than once. */
  duplicateSubmissions: number;
  /** Of those, tasks a killed instance was submitting when it died (see FaultNotes); allowed. */
  resubmittedAfterCrash: number;
  /** Every task has one reservation and one settlement, failed tasks cost nothing, and the balance is the ledger's sum. */
  ledgerExact: boolean;
  ledgerProblems: string[];
  /** Callback attempts the receiver refused (503) while it was down; each was retried. */
  webhooksRefused: number;
  webhooksDelivered: number;
  /** Tasks whose callback arrived more than once. */
  webhooksDuplicated: number;
  /** Ended tasks whose callback never arrived within the wait. */
  webhooksMissing: number;
  crashed: number;
  seconds: number;
}

/** What a fault learned that judging its outcome needs. */
export interface FaultNotes {
  /**
   * Tasks a killed instance was submitting upstream when it died: the upstream may have accepted
   * the job before the instance could store its id, and then nobody can know it exists. Those may
   * be submitted again (the only way to a second submission that no gateway can prevent without
   * an upstream that takes idempotency keys); every other task must not be.
   */
  killedMidSubmit?: ReadonlySet<string>;
}

export interface Scenario {
  name: string;
  /** Which model the tasks use: dall-e-2 goes to the async upstream, gpt-image-1 to the flaky one. */
  model: 'dall-e-2' | 'gpt-image-1';
  /** Runs while the tasks are in flight; resolves once the fault is over. */
  // biome-ignore lint/suspicious/noConfusingVoidType: a scenario's async fault() with no return resolves to void, which `undefined` here would refuse
  fault(world: FaultWorld): Promise<FaultNotes | void>;
  /** Undo anything the fault set up that outlives it. */
  after?(world: FaultWorld): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'database sessions terminated mid-load',
    model: 'dall-e-2',
    async fault(world) {
      for (let i = 0; i < 5; i++) {
        await world.pg.terminateSessions(world.env.DATABASE_URL).catch(() => 0);
        await sleep(400);
      }
    },
  },
  outage(
    'database',
    (world) => world.pg.stop('fast'),
    (world) => world.pg.start(),
  ),
  outage(
    'Redis',
    (world) => world.redis.stop(),
    (world) => world.redis.start(),
  ),
  {
    name: 'an instance SIGKILLed with tasks in flight',
    model: 'dall-e-2',
    async fault(world) {
      await sleep(800);
      await world.killAndReplace(0);
      return { killedMidSubmit: await runningWithoutUpstreamId(world) };
    },
  },
  {
    name: 'webhook receiver down for 5 s',
    model: 'dall-e-2',
    async fault(world) {
      // Down while the first tasks end and call back.
      await sleep(UPSTREAM_TASK_MS - 500);
      world.receiver.setDown(true);
      await sleep(5_000);
      world.receiver.setDown(false);
    },
    async after(world) {
      world.receiver.setDown(false);
    },
  },
  {
    name: 'flaky upstream: 30% 500s and 429 with Retry-After',
    model: 'gpt-image-1',
    async fault(world) {
      await setFlaky(world, true);
      await sleep(3_000);
    },
    async after(world) {
      await setFlaky(world, false);
    },
  },
];

/** A server stopped for 4 s while tasks run, then started again. */
function outage(what: string, stop: (world: FaultWorld) => Promise<void>, start: (world: FaultWorld) => Promise<void>): Scenario {
  return {
    name: `${what} stopped for 4 s, then started`,
    model: 'dall-e-2',
    async fault(world) {
      await sleep(300);
      await stop(world);
      await sleep(4_000);
      await start(world);
    },
  };
}

/**
 * Running tasks with no upstream id yet, as the database holds them right after the kill: those
 * of the killed instance were between their claim and the commit of the upstream's answer (the
 * live instances' ones are in the set too; they are never submitted twice, so they excuse nothing).
 */
async function runningWithoutUpstreamId(world: FaultWorld): Promise<ReadonlySet<string>> {
  const live = world.gateways[1]!.origin;
  const rows = (await adminJson(live, 'GET', '/admin/api/tasks?state=running&limit=1000')).data as { id: string; upstream_task_id: string | null }[];
  return new Set(rows.filter((r) => r.upstream_task_id === null).map((r) => r.id));
}

/** The flaky upstream's next requests: 30% answer 500, 15% 429 with Retry-After, the rest work. */
async function setFlaky(world: FaultWorld, on: boolean): Promise<void> {
  const { sim } = world.flakyUpstream;
  sim.clearFaults();
  if (!on) return;
  const random = seededRandom(7).next;
  sim.enqueueFault(
    ...Array.from({ length: 2_000 }, (): SimFault => {
      const roll = random();
      if (roll < 0.3) return { kind: 'status', status: 500 };
      if (roll < 0.45) return { kind: 'status', status: 429, retryAfterSeconds: 1 };
      return { kind: 'delay', ms: 0 };
    }),
  );
}

interface TaskRow {
  id: string;
  status: string;
  failure: string | null;
}

export async function runScenario(world: FaultWorld, scenario: Scenario, tasks: number, waitMs: number): Promise<ScenarioReport> {
  const started = Date.now();
  const admin = world.gateways[1]!.origin;
  const key = await adminJson(admin, 'POST', '/admin/api/keys', { name: scenario.name.slice(0, 60), credits: START_CREDITS_USD });
  const secret = String(key.key);
  const keyId = String(key.id);
  const tag = `f${Date.now().toString(36)}`;
  const refusedBefore = world.receiver.refused;
  const prompts = Array.from({ length: tasks }, (_, i) => `${tag} ${scenario.name} #${i}`);

  const faultDone = scenario.fault(world).then((notes) => notes ?? {});
  const submissions = await Promise.all(
    prompts.map(async (prompt, i) => {
      // Spread over time and instances, so the fault meets tasks at every stage.
      await sleep((i * 2_000) / tasks);
      return submit(world, i, secret, scenario.model, prompt);
    }),
  );
  const notes = await faultDone;
  await scenario.after?.(world);

  const accepted = submissions.flatMap((s) => (s.kind === 'accepted' ? [s.taskId] : []));
  const ended = await waitForEnd(world, keyId, accepted, waitMs);
  const succeeded = ended.filter((t) => t.status === 'succeeded').length;
  const failed = ended.filter((t) => t.status === 'failed').length;
  const endedIds = ended.map((t) => t.id);
  await waitForWebhooks(world, endedIds, Math.min(waitMs, 30_000));
  const counts = endedIds.map((id) => world.receiver.delivered.get(id) ?? 0);
  const ledger = await checkLedger(world, keyId, ended);
  return {
    name: scenario.name,
    accepted: accepted.length,
    refusedRetryable: submissions.reduce((total, s) => total + s.retried503, 0),
    submitErrors: submissions.flatMap((s) => (s.kind === 'error' ? [s.detail] : [])),
    succeeded,
    failed,
    failures: ended.flatMap((t) => (t.status === 'failed' && t.failure ? [t.failure] : [])),
    lost: accepted.length - ended.length,
    ...submissionCounts(world, scenario, submissions, prompts, notes),
    ledgerExact: ledger.length === 0,
    ledgerProblems: ledger,
    webhooksRefused: world.receiver.refused - refusedBefore,
    webhooksDelivered: counts.filter((c) => c > 0).length,
    webhooksDuplicated: counts.filter((c) => c > 1).length,
    webhooksMissing: counts.filter((c) => c === 0).length,
    crashed: world.crashed(),
    seconds: Math.round((Date.now() - started) / 100) / 10,
  };
}

type Submission = { kind: 'accepted'; taskId: string; retried503: number } | { kind: 'error'; detail: string; retried503: number };

const MAX_TRIES = 8;

/**
 * Both task dialects, alternately (the task API, and new-api's async header), sent as a client
 * behind a load balancer would: a 503 with Retry-After is retried after it (as the SDKs do), and
 * an instance that does not answer is passed over for the next one.
 */
async function submit(world: FaultWorld, i: number, secret: string, model: string, prompt: string): Promise<Submission> {
  const taskApi = i % 2 === 0;
  const body = {
    model,
    prompt,
    size: model === 'dall-e-2' ? '256x256' : '1024x1024',
    callback_url: world.receiver.url,
    ...(model === 'gpt-image-1' ? { quality: 'low' } : {}),
  };
  let retried503 = 0;
  let last = '';
  for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
    const gateway = world.gateways[(i + attempt) % world.gateways.length]!;
    let res: Response;
    try {
      res = await fetch(`${gateway.origin}${taskApi ? '/api/v1/images/generations' : '/v1/images/generations'}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${secret}`,
          'content-type': 'application/json',
          // The same submission, however often it is sent: a retry must not make a second task.
          'idempotency-key': prompt,
          ...(taskApi ? {} : { 'x-new-api-async-task': 'true' }),
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      last = `no answer: ${(err as Error).message}`;
      continue;
    }
    const text = await res.text();
    const retryAfter = Number(res.headers.get('retry-after'));
    if (res.status === 503 && retryAfter > 0) {
      retried503 += 1;
      last = `503 ${text.slice(0, 120)}`;
      await sleep(retryAfter * 1000);
      continue;
    }
    if (res.status !== 200) return { kind: 'error', detail: `${res.status} ${text.slice(0, 160)}`, retried503 };
    const json = JSON.parse(text) as { data?: { taskId?: string; task_id?: string } };
    const taskId = json.data?.taskId ?? json.data?.task_id;
    return taskId ? { kind: 'accepted', taskId, retried503 } : { kind: 'error', detail: `200 without a task id: ${text.slice(0, 160)}`, retried503 };
  }
  return { kind: 'error', detail: `gave up after ${MAX_TRIES} tries: ${last}`, retried503 };
}

/** The accepted tasks that reached an end state within `waitMs` (one list query a round). */
async function waitForEnd(world: FaultWorld, keyId: string, ids: readonly string[], waitMs: number): Promise<TaskRow[]> {
  const deadline = Date.now() + waitMs;
  const wanted = new Set(ids);
  let ended: TaskRow[] = [];
  while (Date.now() < deadline) {
    ended = (await tasksOf(world, keyId)).filter((t) => wanted.has(t.id) && (t.status === 'succeeded' || t.status === 'failed'));
    if (ended.length === ids.length) return ended;
    await sleep(500);
  }
  return ended;
}

interface TaskView {
  id: string;
  state: string;
  fail_code: string | null;
  fail_reason: string | null;
}

async function tasksOf(world: FaultWorld, keyId: string): Promise<TaskRow[]> {
  for (const gateway of world.gateways) {
    try {
      const rows = (await adminJson(gateway.origin, 'GET', `/admin/api/tasks?key=${keyId}&limit=1000`)).data as TaskView[] | undefined;
      if (rows) return rows.map((r) => ({ id: r.id, status: r.state, failure: r.fail_code ? `${r.fail_code}: ${String(r.fail_reason)}` : null }));
    } catch {
      // That instance may be the one just killed, or the database away: ask another.
    }
  }
  return [];
}

async function waitForWebhooks(world: FaultWorld, ids: readonly string[], waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline && ids.some((id) => !world.receiver.delivered.has(id))) await sleep(300);
  // Room for a duplicate to show up, were one on its way.
  await sleep(1_000);
}

/** Upstream submissions per task on the async upstream: more than one is a duplicate. */
function submissionCounts(
  world: FaultWorld,
  scenario: Scenario,
  submissions: readonly Submission[],
  prompts: readonly string[],
  notes: FaultNotes,
): Pick<ScenarioReport, 'duplicateSubmissions' | 'resubmittedAfterCrash'> {
  if (scenario.model !== 'dall-e-2') return { duplicateSubmissions: 0, resubmittedAfterCrash: 0 };
  const submitted = new Map<string, number>();
  for (const req of world.asyncUpstream.sim.requests) {
    const prompt = req.method === 'POST' && typeof req.json === 'object' && req.json !== null ? (req.json as { prompt?: unknown }).prompt : undefined;
    if (typeof prompt === 'string') submitted.set(prompt, (submitted.get(prompt) ?? 0) + 1);
  }
  const twice = prompts.flatMap((prompt, i) => {
    const s = submissions[i];
    return (submitted.get(prompt) ?? 0) > 1 && s?.kind === 'accepted' ? [s.taskId] : [];
  });
  const excused = twice.filter((id) => notes.killedMidSubmit?.has(id) === true).length;
  return { duplicateSubmissions: twice.length - excused, resubmittedAfterCrash: excused };
}

interface LedgerEntry {
  kind: string;
  amount_micros: number;
  request_id: string | null;
}

/** Problems with the key's ledger; none means exact. */
async function checkLedger(world: FaultWorld, keyId: string, ended: readonly TaskRow[]): Promise<string[]> {
  const admin = world.gateways[1]!.origin;
  const entries = (await adminJson(admin, 'GET', `/admin/api/keys/${keyId}/ledger`)).data as LedgerEntry[];
  const balance = Number((await adminJson(admin, 'GET', `/admin/api/keys/${keyId}`)).balance_micros);
  const problems: string[] = [];
  const sum = entries.reduce((total, e) => total + e.amount_micros, 0);
  if (sum !== balance) problems.push(`balance ${balance} is not the ledger's sum ${sum}`);
  for (const task of ended) {
    const mine = entries.filter((e) => e.request_id === task.id);
    const reserves = mine.filter((e) => e.kind === 'reserve').length;
    const settlements = mine.filter((e) => e.kind === 'release' || e.kind === 'refund').length;
    const net = mine.reduce((total, e) => total + e.amount_micros, 0);
    if (reserves !== 1 || settlements !== 1) problems.push(`${task.id}: ${reserves} reservations and ${settlements} settlements`);
    if (task.status === 'failed' && net !== 0) problems.push(`${task.id} failed but cost ${-net} micros`);
    if (task.status === 'succeeded' && net >= 0) problems.push(`${task.id} succeeded but cost nothing`);
  }
  return problems;
}

/** One line per scenario, for people. */
export function formatReports(reports: readonly ScenarioReport[]): string {
  const header = [
    'scenario',
    'accepted',
    '503',
    'errors',
    'ok',
    'failed',
    'lost',
    'dup. submits',
    'resubmitted after kill',
    'ledger',
    'hooks refused',
    'webhooks',
    'dup. hooks',
    'missing hooks',
    'crashed',
    's',
  ];
  const rows = reports.map((r) => [
    r.name,
    r.accepted,
    r.refusedRetryable,
    r.submitErrors.length,
    r.succeeded,
    r.failed,
    r.lost,
    r.duplicateSubmissions,
    r.resubmittedAfterCrash,
    r.ledgerExact ? 'exact' : 'WRONG',
    r.webhooksRefused,
    r.webhooksDelivered,
    r.webhooksDuplicated,
    r.webhooksMissing,
    r.crashed,
    r.seconds,
  ]);
  const lines = [header, ...rows].map((cells) => `| ${cells.join(' | ')} |`);
  lines.splice(1, 0, `|${header.map(() => '---').join('|')}|`);
  return lines.join('\n');
}

/** Everything that must be zero (or true) for a run to pass. */
export function violations(report: ScenarioReport): string[] {
  const out: string[] = [];
  if (report.submitErrors.length > 0) out.push(`submissions answered badly: ${report.submitErrors.slice(0, 3).join('; ')}`);
  if (report.lost > 0) out.push(`${report.lost} tasks lost`);
  if (report.failed > 0) out.push(`${report.failed} tasks failed (${report.failures.slice(0, 3).join('; ')})`);
  if (report.duplicateSubmissions > 0) out.push(`${report.duplicateSubmissions} tasks submitted upstream twice`);
  if (!report.ledgerExact) out.push(`ledger: ${report.ledgerProblems.slice(0, 3).join('; ')}`);
  if (report.webhooksMissing > 0) out.push(`${report.webhooksMissing} webhooks never delivered`);
  if (report.webhooksDuplicated > 0) out.push(`${report.webhooksDuplicated} webhooks delivered twice`);
  if (report.crashed > 0) out.push(`${report.crashed} instances crashed`);
  if (report.accepted === 0) out.push('no task was accepted');
  return out;
}
