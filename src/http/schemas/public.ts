/** Schemas of the routes without a key: signed image links and the health probes. */
import { Type } from '@sinclair/typebox';
import { errorResponses, NoQuery, OpenAIErrorEnvelope, writtenAsIs } from './common.js';

const imageBytes = writtenAsIs(Type.String({ format: 'binary' }));

export const FileSchema = {
  params: Type.Object({ name: Type.String({ description: 'The stored image, as its link names it.' }) }),
  querystring: Type.Object({
    expires: Type.Integer({ description: 'Unix seconds the link is good until (signed).' }),
    sig: Type.String({ description: 'The link signature.' }),
  }),
  response: {
    200: {
      description:
        "The image (Cache-Control: private, for as long as the link is good), with Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline' and X-Content-Type-Options: nosniff (an SVG runs no script and loads nothing).",
      content: {
        'image/png': { schema: imageBytes },
        'image/jpeg': { schema: imageBytes },
        'image/webp': { schema: imageBytes },
        'image/gif': { schema: imageBytes },
        'image/svg+xml': { schema: imageBytes },
      },
    },
    ...errorResponses('openai', 'signed-link', [404]),
  },
};

const CheckDetail = Type.Object(
  {
    status: Type.Union([Type.Literal('ok'), Type.Literal('failed')]),
    latency_ms: Type.Integer({ description: 'How long the check took (the bound, about 800 ms, when the dependency did not answer).' }),
    reason: Type.Optional(Type.String({ description: 'Why it failed: the error, or that it did not answer in time.' })),
  },
  { title: 'ReadinessCheck' },
);
const Checks = Type.Record(Type.String(), CheckDetail, {
  description: 'With the admin key only: each check by name (database; redis with REDIS_URL; image_store; channels).',
});
const Alive = Type.Object({ status: Type.Literal('ok') }, { description: 'The process is alive and answers; no dependency is consulted.' });

export const HealthSchemas = {
  healthz: { querystring: NoQuery, response: { 200: Alive, ...errorResponses('openai', 'public') } },
  /** The older name of /healthz. */
  livez: { querystring: NoQuery, response: { 200: Alive, ...errorResponses('openai', 'public') } },
  readyz: {
    querystring: NoQuery,
    response: {
      200: Type.Object({ status: Type.Literal('ok'), checks: Type.Optional(Checks) }, { description: 'Ready for traffic: every check passed.' }),
      ...errorResponses('openai', 'public'),
      503: Type.Union([Type.Object({ status: Type.Literal('unavailable'), checks: Type.Optional(Checks) }), OpenAIErrorEnvelope], {
        description: 'Not ready: a check failed or did not answer within its bound (or the gateway is closing: the error envelope).',
      }),
    },
  },
};
