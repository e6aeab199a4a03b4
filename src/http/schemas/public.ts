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

const CheckState = Type.Union([Type.Literal('ok'), Type.Literal('down')]);

export const HealthSchemas = {
  livez: { querystring: NoQuery, response: { 200: Type.Object({ status: Type.Literal('ok') }, { description: 'The process serves.' }), ...errorResponses('openai', 'public') } },
  readyz: {
    querystring: NoQuery,
    response: {
      200: Type.Object(
        { status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')], { description: 'degraded: an optional dependency (Redis) is down.' }), checks: Type.Record(Type.String(), CheckState) },
        { description: 'Ready for traffic.' },
      ),
      ...errorResponses('openai', 'public'),
      503: Type.Union([Type.Object({ status: Type.Literal('unavailable'), checks: Type.Record(Type.String(), CheckState) }), OpenAIErrorEnvelope], {
        description: 'A required dependency is down (or the gateway is closing: the error envelope).',
      }),
    },
  },
  healthz: {
    querystring: NoQuery,
    response: {
      200: Type.Object({ status: Type.Literal('ok') }, { description: 'Ready for traffic.' }),
      ...errorResponses('openai', 'public'),
      503: Type.Union([Type.Object({ status: Type.Literal('unavailable'), reason: Type.Optional(Type.String({ description: 'The first required check that is down.' })) }), OpenAIErrorEnvelope], {
        description: 'Not ready (or the gateway is closing: the error envelope).',
      }),
    },
  },
};
