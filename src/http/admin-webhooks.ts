/**
 * /admin/api/webhook-secret: the gateway-wide Standard Webhooks secret that signs the task
 * callbacks of IMAGEGATE_API_KEYS keys, for the operator to give their receivers; and its
 * rotation. (A database key's own secret is under /admin/api/keys/{id}/webhook-secret.)
 */
import type { FastifyInstance } from 'fastify';
import type { WebhookSecrets } from '../tasks/webhook-secrets.js';

export interface AdminWebhooksDeps {
  webhookSecrets: WebhookSecrets;
}

export function registerAdminWebhookRoutes(app: FastifyInstance, { webhookSecrets }: AdminWebhooksDeps): void {
  app.get('/admin/api/webhook-secret', async () => ({ secret: await webhookSecrets.gatewaySecret() }));

  app.post('/admin/api/webhook-secret/rotate', async () => ({ secret: await webhookSecrets.rotateGatewaySecret() }));
}
