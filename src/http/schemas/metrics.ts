/** Schema of /metrics (admin): the gateway's Prometheus metrics, in the text exposition format. */
import { Type } from '@sinclair/typebox';
import { errorResponses, NoQuery, writtenAsIs } from './common.js';

const exposition = writtenAsIs(Type.String({ description: 'Prometheus text exposition format 0.0.4; every metric is listed in docs/metrics.md.' }));

export const MetricsSchema = {
  summary: "The gateway's Prometheus metrics (HTTP, process)",
  querystring: NoQuery,
  response: {
    200: { description: 'The metrics (Content-Type: text/plain; version=0.0.4).', content: { 'text/plain': { schema: exposition } } },
    ...errorResponses('openai', 'admin'),
  },
};
