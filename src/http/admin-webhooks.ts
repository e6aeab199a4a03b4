/**
 * /admin/api/webhook-secret: the gateway-wide Standard Webhooks secret that signs the task
 * callbacks of IMAGEGATE_API_KEYS keys, for the operator to give their receivers; and its
 * rotation. (A database key's own secret is under /admin/api/keys/{id}/webhook-secret.)
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { WebhookSecrets } from '../tasks/webhook-secrets.js';
import { WebhookSecretSchemas } from './schemas/admin.js';

export interface AdminWebhooksDeps {
  webhookSecrets: WebhookSecrets;
}

export function registerAdminWebhookRoutes(scope: FastifyInstance, { webhookSecrets }: AdminWebhooksDeps): void {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  app.get('/admin/api/webhook-secret', { schema: WebhookSecretSchemas.get }, async () => ({ secret: await webhookSecrets.gatewaySecret() }));

  app.post('/admin/api/webhook-secret/rotate', { schema: WebhookSecretSchemas.rotate }, async () => ({ secret: await webhookSecrets.rotateGatewaySecret() }));
}
