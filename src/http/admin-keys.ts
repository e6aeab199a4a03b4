/**
 * /admin/api/keys: client keys with their credits and limits, and the credit ledger. The secret
 * is shown once, in the answer that creates it. Money goes out in USD (and exact micros).
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { ApiKeyService, KeySummary } from '../billing/api-keys.js';
import type { Credits } from '../billing/credits.js';
import { parseKeySettings, usdToMicros } from '../billing/key-settings.js';
import { gatewayError, invalidRequest } from '../core/errors.js';
import { safetyPolicyToRaw } from '../core/safety-policy.js';
import type { LedgerRow } from '../db/schema.js';
import type { WebhookSecrets } from '../tasks/webhook-secrets.js';
import { offsetPageOf, pageOfList } from './admin-list.js';
import { KeySchemas, type KeyView, type LedgerEntry } from './schemas/admin.js';

export interface AdminKeysDeps {
  keys: ApiKeyService;
  credits: Credits;
  webhookSecrets: WebhookSecrets;
}

export function registerAdminKeyRoutes(scope: FastifyInstance, { keys, credits, webhookSecrets }: AdminKeysDeps): void {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  const find = async (id: string): Promise<KeySummary> => {
    const key = await keys.get(id);
    if (!key) throw gatewayError('key_not_found', `No key '${id}'.`, { param: 'id' });
    return key;
  };

  app.get('/admin/api/keys', { schema: KeySchemas.list }, async (request) => {
    const { data, has_more } = pageOfList(await keys.list(), offsetPageOf(request.query));
    return { object: 'list' as const, data: data.map(renderKey), has_more };
  });

  app.post('/admin/api/keys', { schema: KeySchemas.create }, async (request, reply) => {
    const settings = parseKeySettings(request.body, 'create');
    const created = await keys.create(settings);
    if (settings.creditsMicros) await credits.grant(created.id, settings.creditsMicros, 'initial credits');
    return reply.status(201).send({ ...renderKey(await find(created.id)), key: created.key });
  });

  app.get('/admin/api/keys/:id', { schema: KeySchemas.get }, async (request) => renderKey(await find(request.params.id)));

  app.patch('/admin/api/keys/:id', { schema: KeySchemas.patch }, async (request) => {
    const current = await find(request.params.id);
    const updated = await keys.update(current.id, parseKeySettings(request.body, 'update'));
    return renderKey(updated ?? current);
  });

  app.delete('/admin/api/keys/:id', { schema: KeySchemas.delete }, async (request, reply) => {
    const key = await find(request.params.id);
    await keys.revoke(key.id);
    return reply.status(204).send(null);
  });

  app.post('/admin/api/keys/:id/credits', { schema: KeySchemas.credits }, async (request) => {
    const key = await find(request.params.id);
    const body = (request.body ?? {}) as Record<string, unknown>;
    const amount = usdToMicros(body.amount, 'amount', true);
    if (amount === 0) throw invalidRequest('amount', 'invalid_value', 'amount must not be 0.');
    const note = typeof body.note === 'string' ? body.note.slice(0, 500) : null;
    const balance = await credits.grant(key.id, amount, note);
    return { id: key.id, balance_micros: balance, credits: balance === null ? null : balance / 1_000_000 };
  });

  /** The Standard Webhooks secret that signs this key's task callbacks (made on first use). */
  app.get('/admin/api/keys/:id/webhook-secret', { schema: KeySchemas.webhookSecret }, async (request) => {
    const key = await find(request.params.id);
    return { id: key.id, webhook_secret: await webhookSecrets.secretFor(key.id) };
  });

  app.post('/admin/api/keys/:id/webhook-secret/rotate', { schema: KeySchemas.rotateWebhookSecret }, async (request) => {
    const key = await find(request.params.id);
    return { id: key.id, webhook_secret: await webhookSecrets.rotate(key.id) };
  });

  app.get('/admin/api/keys/:id/ledger', { schema: KeySchemas.ledger }, async (request) => {
    const key = await find(request.params.id);
    const page = offsetPageOf(request.query);
    const { data, has_more } = pageOfList(await credits.ledger(key.id, page.offset + page.limit + 1), page);
    return { object: 'list' as const, data: data.map(renderEntry), has_more };
  });
}

function renderKey(key: KeySummary): KeyView {
  const { policy } = key;
  return {
    id: key.id,
    object: 'api_key',
    name: key.name,
    prefix: key.prefix,
    owner: key.owner,
    credits: key.balanceMicros === null ? null : key.balanceMicros / 1_000_000,
    balance_micros: key.balanceMicros,
    enabled: policy.enabled,
    expires_at: policy.expiresAt === null ? null : new Date(policy.expiresAt).toISOString(),
    allowed_models: policy.allowedModels === null ? null : [...policy.allowedModels],
    allowed_ips: policy.allowedIps === null ? null : [...policy.allowedIps],
    rpm: policy.rpm,
    max_concurrent: policy.maxConcurrent,
    safety: policy.safety === null ? null : safetyPolicyToRaw(policy.safety),
    created_at: new Date(key.createdAt).toISOString(),
    revoked_at: key.revokedAt === null ? null : new Date(key.revokedAt).toISOString(),
  };
}

function renderEntry(row: LedgerRow): LedgerEntry {
  return {
    id: row.id,
    kind: row.kind,
    amount: row.amount_micros / 1_000_000,
    amount_micros: row.amount_micros,
    request_id: row.request_id,
    note: row.note,
    created_at: new Date(row.created_at).toISOString(),
  };
}
