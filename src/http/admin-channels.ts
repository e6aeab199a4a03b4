/**
 * /admin/api/channels: list, create, read, update, delete, test. Upstream keys and secret-looking
 * headers never leave in clear.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { gatewayError, invalidRequest } from '../core/errors.js';
import { safetyPolicyToRaw } from '../core/safety-policy.js';
import { ChannelDefinitionError, parseChannelDefinition, patchChannelDefinition } from '../routing/channel-definition.js';
import type { ChannelRegistry } from '../routing/channel-registry.js';
import { definitionOf, keyFingerprint, type ChannelStore, type StoredChannel } from '../routing/channel-store.js';
import type { ChannelTester } from '../routing/channel-tester.js';
import type { ChannelBreakers } from '../routing/circuit-breaker.js';
import type { ChannelSlots } from '../routing/concurrency.js';
import { offsetPageOf, pageOfList } from './admin-list.js';
import { maskSecret } from './redact.js';
import { ChannelSchemas, type ChannelView } from './schemas/admin.js';

export interface AdminChannelsDeps {
  store: ChannelStore;
  registry: ChannelRegistry;
  breakers: ChannelBreakers;
  limiter: ChannelSlots;
  tester: ChannelTester;
  defaultTimeoutSeconds: number;
}

export function registerAdminChannelRoutes(scope: FastifyInstance, deps: AdminChannelsDeps): void {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  const { store, registry } = deps;
  const view = (s: StoredChannel) => renderChannel(s, deps);
  const find = async (id: string): Promise<StoredChannel> => {
    const stored = await store.get(id);
    if (!stored) throw gatewayError('channel_not_found', `No channel '${id}'.`, { param: 'id' });
    return stored;
  };

  app.get('/admin/api/channels', { schema: ChannelSchemas.list }, async (request) => {
    const { data, has_more } = pageOfList(await store.list(), offsetPageOf(request.query));
    return { object: 'list' as const, data: await Promise.all(data.map(view)), has_more };
  });

  app.post('/admin/api/channels', { schema: ChannelSchemas.create }, async (request, reply) => {
    const def = definitionFrom(() => parseChannelDefinition(request.body, { timeoutSeconds: deps.defaultTimeoutSeconds }));
    if (await store.get(def.name)) throw gatewayError('channel_exists', `A channel named '${def.name}' exists.`, { param: 'name' });
    const created = await store.create(def, 'admin');
    await registry.refresh();
    return reply.status(201).send(await view(created));
  });

  app.get('/admin/api/channels/:id', { schema: ChannelSchemas.get }, async (request) => view(await find(request.params.id)));

  app.patch('/admin/api/channels/:id', { schema: ChannelSchemas.patch }, async (request) => {
    const current = await find(request.params.id);
    const def = definitionFrom(() => patchChannelDefinition(definitionOf(current.channel), request.body));
    if (def.name !== current.channel.name && (await store.get(def.name))) {
      throw gatewayError('channel_exists', `A channel named '${def.name}' exists.`, { param: 'name' });
    }
    const updated = await store.update(current.channel.id, def);
    await registry.refresh();
    if (!updated) throw gatewayError('channel_not_found', `No channel '${request.params.id}'.`, { param: 'id' });
    return await view(updated);
  });

  app.delete('/admin/api/channels/:id', { schema: ChannelSchemas.delete }, async (request, reply) => {
    const current = await find(request.params.id);
    await store.delete(current.channel.id);
    await registry.refresh();
    return reply.status(204).send(null);
  });

  app.post('/admin/api/channels/:id/test', { schema: ChannelSchemas.test }, async (request) => {
    const { channel } = await find(request.params.id);
    const result = await deps.tester.test(channel);
    return { ok: result.ok, model: result.model, latency_ms: result.latencyMs, ...(result.error ? { error: result.error } : {}) };
  });
}

function definitionFrom<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof ChannelDefinitionError) throw invalidRequest(err.field, 'invalid_value', err.message);
    throw err;
  }
}

const SECRET_HEADER = /(authorization|api-key|token|secret|key|cookie)/i;

async function renderChannel(s: StoredChannel, deps: AdminChannelsDeps): Promise<ChannelView> {
  const c = s.channel;
  const health = await deps.breakers.snapshot(c.id);
  const test = deps.tester.lastResult(c.id);
  const iso = (ms: number | null) => (ms ? new Date(ms).toISOString() : null);
  return {
    id: c.id,
    name: c.name,
    kind: c.kind,
    base_url: c.baseUrl,
    status: !c.enabled ? 'disabled' : s.disabledReason !== null ? 'auto_disabled' : 'active',
    disabled_reason: s.disabledReason,
    api_keys: c.apiKeys.map((key) => {
      const fingerprint = keyFingerprint(key);
      return { key: maskSecret(key), fingerprint, disabled_reason: s.disabledKeys[fingerprint] ?? null };
    }),
    models: c.models === '*' ? '*' : [...c.models],
    model_map: Object.fromEntries(Object.entries(c.modelMap).map(([m, v]) => [m, { upstream_model: v.upstreamModel ?? null, params: v.params ?? {} }])),
    priority: c.priority,
    weight: c.weight,
    max_concurrent: c.maxConcurrent,
    timeout: c.timeoutMs / 1000,
    headers: Object.fromEntries(Object.entries(c.headers).map(([k, v]) => [k, SECRET_HEADER.test(k) ? maskSecret(v) : v])),
    enabled: c.enabled,
    api_version: c.apiVersion ?? null,
    poll_interval: c.pollIntervalMs !== undefined ? c.pollIntervalMs / 1000 : null,
    safety: c.safety ? safetyPolicyToRaw(c.safety) : null,
    source: s.source,
    health: {
      circuit: health.state,
      consecutive_failures: health.consecutiveFailures,
      unavailable_until: iso(health.unavailableUntil),
      last_error: health.lastError,
      in_flight: deps.limiter.count(c.id),
    },
    last_test: test ? { ok: test.ok, model: test.model, latency_ms: test.latencyMs, error: test.error ?? null, tested_at: iso(test.testedAt) } : null,
    created_at: iso(s.createdAt),
    updated_at: iso(s.updatedAt),
  };
}
