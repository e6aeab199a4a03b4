/**
 * /v1/account...: a client key's self-service view, that key's things only. Another key's image or
 * task answers 404, exactly as one that does not exist, so ids found elsewhere tell nothing.
 * Register in a client-key group of the OpenAI dialect.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiKeyService, KeyIdentity } from '../billing/api-keys.js';
import type { UsageFilter, UsageReport, UsageTotals } from '../billing/usage-report.js';
import { gatewayError, invalidApiKey } from '../core/errors.js';
import type { DeliveryRow, TaskRow } from '../db/schema.js';
import type { ImageGallery } from '../storage/image-gallery.js';
import type { TaskService } from '../tasks/task-service.js';
import type { TaskStore } from '../tasks/task-store.js';
import { resultOf } from '../tasks/task-views.js';
import { deliveryIdFor, type WebhookOutbox } from '../tasks/webhooks.js';
import { pageOf, rowPageAnswer, timeBound } from './admin-list.js';
import { taskFilterOf } from './admin-tasks.js';
import { taskTimeline, type TimelineRun } from './task-timeline.js';
import { imageFilterOf, renderImage, type GalleryLinks } from './gallery-view.js';
import { AccountSchemas } from './schemas/account.js';
import { AccountImageSchemas } from './schemas/gallery.js';

export interface AccountRouteDeps {
  keys: ApiKeyService;
  gallery: ImageGallery;
  links: GalleryLinks;
  tasks: TaskService;
  taskStore: TaskStore;
  outbox: WebhookOutbox;
  usage: UsageReport;
  /** A stored image's fresh link (task results). */
  sign: (name: string) => string;
}

const usd = (micros: number) => micros / 1_000_000;
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function registerAccountRoutes(scope: FastifyInstance, deps: AccountRouteDeps): void {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  const { gallery, links } = deps;

  app.get('/v1/account', { schema: AccountSchemas.account }, async (request) => {
    const identity = keyOf(request);
    // Read now, not from the authentication cache: the balance a spend just moved.
    const key = await deps.keys.get(identity.id);
    const policy = key?.policy ?? identity.policy;
    const balance = key ? key.balanceMicros : null;
    return {
      id: identity.id,
      object: 'account' as const,
      name: key?.name ?? identity.name,
      prefix: identity.prefix,
      credits: balance === null ? null : usd(balance),
      balance_micros: balance,
      enabled: policy.enabled,
      expires_at: iso(policy.expiresAt),
      allowed_models: policy.allowedModels === null ? null : [...policy.allowedModels],
      rpm: policy.rpm,
      max_concurrent: policy.maxConcurrent,
      created_at: key ? iso(key.createdAt) : null,
    };
  });

  app.get('/v1/account/images', { schema: AccountImageSchemas.list }, async (request) => {
    const filter = { ...imageFilterOf(request.query), keyId: keyOf(request).id, withoutHeld: true };
    const page = pageOf(request.query);
    const { data, ...more } = rowPageAnswer(await gallery.list(filter, { ...page, limit: page.limit + 1 }), page);
    const now = gallery.now();
    return { object: 'list' as const, data: data.map((row) => renderImage(row, links, now)), ...more };
  });

  const ownImage = async (request: FastifyRequest, id: string) => {
    const image = await gallery.get(id, keyOf(request).id);
    // An image the content check held back is the operator's to review, not the key's to see.
    if (!image || image.review === 'refused') throw gatewayError('image_not_found', `No stored image '${id}'.`, { param: 'id' });
    return image;
  };

  app.get('/v1/account/images/:id', { schema: AccountImageSchemas.get }, async (request) =>
    renderImage(await ownImage(request, request.params.id), links, gallery.now()),
  );

  app.delete('/v1/account/images/:id', { schema: AccountImageSchemas.delete }, async (request) => {
    const image = await ownImage(request, request.params.id);
    await gallery.delete(image);
    return { id: image.id, object: 'image' as const, deleted: true as const };
  });

  app.get('/v1/account/tasks', { schema: AccountSchemas.tasks }, async (request) => {
    const q = request.query;
    const filter = taskFilterOf(q, keyOf(request).id);
    const page = pageOf(q);
    const { data, ...more } = rowPageAnswer(await deps.taskStore.list(filter, { ...page, limit: page.limit + 1 }), page);
    return { object: 'list' as const, data: data.map((task) => renderOwnTask(task, deps.sign)), ...more };
  });

  app.get('/v1/account/tasks/:id', { schema: AccountSchemas.task }, async (request) => {
    const task = await deps.tasks.get(request.params.id, keyOf(request));
    if (!task) throw gatewayError('task_not_found', `No task '${request.params.id}'.`, { param: 'id' });
    const [runRows, deliveries, webhookAttempts] = await Promise.all([
      deps.taskStore.runs(task.id),
      deps.outbox.deliveries(task.id),
      deps.outbox.attempts(task.id),
    ]);
    // Which channels were tried is the operator's business: only how each attempt went.
    const runs: TimelineRun[] = runRows.map((run) => ({
      id: run.id,
      status: run.status,
      errorCode: run.error_code,
      createdAt: run.created_at,
      latencyMs: run.latency_ms,
      attempts: attemptsOf(run.attempts).map((a) => ({ ...a, channel: UNNAMED_CHANNEL })),
    }));
    const isResend = (d: DeliveryRow) => d.id !== deliveryIdFor(task.id);
    const timeline = taskTimeline({ ...task, upstream_task_id: null }, runs, deliveries, webhookAttempts, isResend).map(
      ({ channel: _operatorOnly, ...event }) => event,
    );
    return {
      ...renderOwnTask(task, deps.sign),
      runs: runs.map((run) => ({
        id: run.id,
        status: run.status,
        error_code: run.errorCode,
        latency_ms: run.latencyMs,
        attempts: run.attempts.map(({ outcome, started_at, latency_ms }) => ({ outcome, started_at, latency_ms })),
        created_at: new Date(run.createdAt).toISOString(),
      })),
      webhook_deliveries: deliveries.map((d) => ({
        id: d.id,
        url: d.url,
        status: d.status,
        resend: isResend(d),
        attempts: d.attempts,
        last_status: d.last_status,
        last_error: d.last_error,
        next_attempt_at: d.status === 'pending' ? iso(d.next_attempt_at) : null,
        delivered_at: iso(d.delivered_at),
        created_at: new Date(d.created_at).toISOString(),
      })),
      webhook_attempts: webhookAttempts.map((a) => ({
        delivery_id: a.delivery_id,
        attempt: a.attempt,
        attempted_at: new Date(a.attempted_at).toISOString(),
        outcome: a.outcome,
        http_status: a.http_status,
        error: a.error,
        latency_ms: a.latency_ms,
      })),
      timeline,
    };
  });

  app.get('/v1/account/usage', { schema: AccountSchemas.usage }, async (request) => {
    const q = request.query;
    const from = timeBound(q.from, 'from');
    const to = timeBound(q.to, 'to');
    const filter: UsageFilter = {
      keyId: keyOf(request).id,
      ...(q.model ? { model: q.model } : {}),
      ...(from !== undefined ? { from } : {}),
      ...(to !== undefined ? { to } : {}),
    };
    const [totals, byDay, byModel] = await Promise.all([deps.usage.totals(filter), deps.usage.by(filter, 'day'), deps.usage.by(filter, 'model')]);
    return {
      object: 'usage' as const,
      totals: renderTotals(totals),
      by_day: byDay.map((g) => ({ day: g.group, ...renderTotals(g) })),
      by_model: byModel.map((g) => ({ model: g.group, ...renderTotals(g) })),
    };
  });
}

/** The client-key group's check set it; a route reached without it is a wiring fault, answered as no key. */
function keyOf(request: FastifyRequest): KeyIdentity {
  if (!request.apiKey) throw invalidApiKey("You didn't provide an API key. Send it as 'Authorization: Bearer YOUR_KEY'.");
  return request.apiKey;
}

/** A task as its own key sees it: the admin view without the key id and the upstream's task id. */
function renderOwnTask(task: TaskRow, sign: (name: string) => string) {
  return {
    id: task.id,
    object: 'task' as const,
    dialect: task.dialect,
    action: task.action,
    model: task.model,
    state: task.status,
    attempts: task.attempts,
    image_urls: (resultOf(task)?.images ?? []).map((image) => sign(image.name)),
    fail_code: task.fail_code,
    fail_reason: task.fail_reason,
    callback_url: task.callback_url,
    created_at: iso(task.created_at),
    started_at: iso(task.started_at),
    finished_at: iso(task.finished_at),
    deadline_at: iso(task.deadline_at),
  };
}

/** What the key's timeline says in place of a channel's name. */
const UNNAMED_CHANNEL = 'upstream';

/** A run's upstream attempts (request_log JSON): outcome, when sent, latency; the channel left out. */
function attemptsOf(json: string | null): { outcome: string; started_at: string | null; latency_ms: number }[] {
  if (!json) return [];
  const parsed: unknown = JSON.parse(json);
  if (!Array.isArray(parsed)) return [];
  return parsed.flatMap((a: unknown) => {
    if (typeof a !== 'object' || a === null) return [];
    const { outcome, started_at: started, latency_ms: latency } = a as Record<string, unknown>;
    if (typeof outcome !== 'string' || typeof latency !== 'number') return [];
    return [{ outcome, started_at: typeof started === 'number' ? new Date(started).toISOString() : null, latency_ms: latency }];
  });
}

function renderTotals(t: UsageTotals) {
  return { requests: t.requests, succeeded: t.succeeded, errors: t.requests - t.succeeded, images: t.images, spend: usd(t.priceMicros) };
}
