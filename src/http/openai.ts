/** The OpenAI dialect: /v1/images/{generations,edits,variations} and /v1/models. */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { modelNotFound, modelNotServed } from '../core/errors.js';
import { parseImageRequest, withInputs, type ImageEndpoint, type ImageRequestInput } from '../core/image-request.js';
import { describeCapabilities, type ModelCatalogue, type ModelSpec, type ServedModels } from '../core/models.js';
import type { RateLimiter } from '../billing/rate-limits.js';
import type { ImageInputResolver } from '../inputs/input-resolver.js';
import type { ImagePipeline } from '../pipeline.js';
import { whenAnswerCloses } from './answer-closed.js';
import { readImageForm } from './image-form.js';
import { streamImages } from './image-stream.js';
import { arrivingImagesBody, renderImagesResponse } from './images-response.js';
import { admitKey } from './request-guards.js';
import { ImageSchemas, ModelSchemas } from './schemas/openai.js';
import { submitNewApiTask, wantsAsyncTask, type NewApiTaskDeps } from './newapi-tasks.js';

export interface OpenAIRoutesDeps {
  catalogue: ModelCatalogue;
  pipeline: ImagePipeline;
  inputs: ImageInputResolver;
  /** Most bytes of uploaded images one multipart request may carry. */
  uploadLimitBytes: number;
  /** Streams: a comment this often while nothing else is sent. */
  streamKeepAliveMs: number;
  limiter: RateLimiter;
  /** new-api async tasks (X-New-Api-Async-Task). */
  tasks: NewApiTaskDeps;
  /** Label for /v1/models: is this model served only by the demo channel? */
  isDemoOnly: (modelId: string) => boolean;
  /** The catalogue models some enabled channel serves: the only ones listed, shown or accepted. */
  served: ServedModels;
}

const CREATED = 1_745_712_000; // fixed: catalogue entries have no real creation time

export function registerOpenAIRoutes(app: FastifyInstance, deps: OpenAIRoutesDeps): void {
  const images = (endpoint: ImageEndpoint) => async (request: FastifyRequest, reply: FastifyReply) => {
    await admitKey(request.apiKey, reply, deps.limiter);
    const signal = abortOnClientClose(request, reply);
    const parsed = parseImageRequest(await requestInput(endpoint, request, reply, deps.uploadLimitBytes), deps.catalogue, request.id, deps.served);
    request.logLine?.noteJob(parsed.job);
    // Inputs are checked (and fetched) before any upstream call or credit is spent.
    const job = withInputs(parsed.job, await deps.inputs.resolve(parsed.job, parsed.inputs, signal));
    if (wantsAsyncTask(request) && endpoint !== 'variations') return submitNewApiTask(job, request, reply, deps.tasks);
    // One shared 'close' listener (answer-closed.ts): a piped answer adds several of its own.
    const answered = new Promise<void>((resolve) => whenAnswerCloses(reply.raw, resolve));
    const key = request.apiKey;
    const keyId = key?.id ?? null;
    const memory = request.memory ?? undefined;
    // The run tells the request's log line its attempts and outcome (request-line.ts).
    const observer = request.logLine ? { observer: request.logLine } : {};
    if (job.stream) {
      await streamImages(job, reply, { pipeline: deps.pipeline, keepAliveMs: deps.streamKeepAliveMs, key, keyId, signal, answered, memory, ...observer });
      return reply;
    }
    const run = { mode: { kind: 'sync' } as const, settlement: { kind: 'reserve-now' } as const, key, keyId, signal, answered, memory, ...observer };
    // b64_json answers pass through as they arrive; url answers are stored as they arrive.
    const result = await deps.pipeline.runArriving(job, run);
    reply.type('application/json; charset=utf-8');
    if ('events' in result) return reply.send(await arrivingImagesBody(result));
    // One buffer, one socket write: the rope's pieces are as small as the upstream's packets,
    // and a write per piece costs far more than copying them once.
    return reply.send(Buffer.concat(renderImagesResponse(result)));
  };
  // The schemas check each field's type; the request parser checks values against the model.
  app.post('/v1/images/generations', { schema: ImageSchemas.generations }, images('generations'));
  app.post('/v1/images/edits', { schema: ImageSchemas.edits }, images('edits'));
  app.post('/v1/images/variations', { schema: ImageSchemas.variations }, images('variations'));

  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  // Only what a request may name: the catalogue models some enabled channel serves.
  typed.get('/v1/models', { schema: ModelSchemas.list }, async () => ({
    object: 'list' as const,
    data: deps.catalogue
      .list()
      .filter((m) => deps.served.serves(m.id))
      .map((m) => renderModel(m, deps)),
  }));

  typed.get('/v1/models/:model', { schema: ModelSchemas.get }, async (request) => {
    const spec = deps.catalogue.get(request.params.model);
    if (!spec) throw modelNotFound(request.params.model);
    if (!deps.served.serves(spec.id)) throw modelNotServed(spec.id, deps.served.ids());
    // One model carries its capabilities (an extension field; docs/api.md, "The model catalogue"); list items stay OpenAI-shaped.
    return { ...renderModel(spec, deps), capabilities: describeCapabilities(spec) };
  });
}

/** JSON bodies as they are; multipart forms read into text fields plus uploaded images. */
async function requestInput(endpoint: ImageEndpoint, request: FastifyRequest, reply: FastifyReply, uploadLimitBytes: number): Promise<ImageRequestInput> {
  if (!request.isMultipart()) return { endpoint, body: request.body };
  const form = await readImageForm(request, reply, uploadLimitBytes);
  return { endpoint, body: form.fields, multipart: { uploads: form.uploads } };
}

/** Aborts the upstream call when the client goes away before its answer. */
export function abortOnClientClose(request: FastifyRequest, reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  whenAnswerCloses(reply.raw, () => {
    if (!reply.raw.writableFinished) controller.abort(new Error('client closed the request'));
  });
  request.raw.once('aborted', () => controller.abort(new Error('client aborted the request')));
  return controller.signal;
}

function renderModel(spec: ModelSpec, deps: OpenAIRoutesDeps) {
  const demoOnly = deps.isDemoOnly(spec.id);
  return {
    id: spec.id,
    object: 'model' as const,
    created: CREATED,
    owned_by: demoOnly ? 'imagegate-demo' : 'imagegate',
    description: demoOnly ? `${spec.description} — DEMO channel: images are rendered locally, not by a real model` : spec.description,
  };
}
