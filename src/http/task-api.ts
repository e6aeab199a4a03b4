/**
 * The task API dialect: POST /api/v1/images/generations creates a task, GET
 * /api/v1/images/generations?task_id= reads it. Answers are `{"code":200,"msg":"success","data":...}`;
 * errors `{"code":<status>,"msg":"...","data":null}` with the same HTTP status (renderTaskApiError,
 * called by the error handler for /api/v1/ URLs).
 *
 * A create body is the task API's fields (model, prompt, aspect_ratio, image_url, image_urls,
 * nsfw_checker, callback_url) plus any OpenAI generation field (n, size, quality, output_format...).
 * It is turned into an OpenAI generations body and goes through the same parser and input checks
 * as /v1/images/generations, before the task is accepted; errors name the client's own fields.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { KeyIdentity } from '../billing/api-keys.js';
import type { RateLimiter } from '../billing/rate-limits.js';
import { parseAspectRatio, sizeForModel } from '../core/aspect-ratio.js';
import { GatewayError, gatewayError, invalidApiKey, invalidRequest, modelNotServed } from '../core/errors.js';
import { MAX_INPUT_IMAGES } from '../core/image-input.js';
import { emptyBody, parseImageRequest, withInputs } from '../core/image-request.js';
import type { ModelCatalogue, ModelSpec, ServedModels } from '../core/models.js';
import type { ImageInputResolver } from '../inputs/input-resolver.js';
import type { TaskService } from '../tasks/task-service.js';
import { taskApiView } from '../tasks/task-views.js';
import { abortOnClientClose } from './openai.js';
import { admitKey, readIdempotencyKey } from './request-guards.js';
import { TaskApiQuerySchema, TaskApiSubmitSchema } from './schemas/task-api.js';

export interface TaskApiRoutesDeps {
  catalogue: ModelCatalogue;
  inputs: ImageInputResolver;
  tasks: TaskService;
  /** A stored image's public link (ImageOutput.signedUrl). */
  sign: (name: string) => string;
  /** The key's RPM and concurrency limits, as on /v1 (optional: without it, no limits here). */
  limiter?: RateLimiter;
  /** The catalogue models some enabled channel serves (optional: without it, the whole catalogue). */
  served?: ServedModels;
}

export interface TaskApiEnvelope<T> {
  code: number;
  msg: string;
  data: T;
}

/** A GatewayError in this dialect's envelope; the HTTP status is `err.status`, the same as `code`. */
export function renderTaskApiError(err: GatewayError): TaskApiEnvelope<null> {
  return { code: err.status, msg: err.message, data: null };
}

const success = <T>(data: T): TaskApiEnvelope<T> => ({ code: 200, msg: 'success', data });

const PATH = '/api/v1/images/generations';

/** Task creation: register in a client-key group of the task API dialect. */
export function registerTaskApiSubmitRoute(app: FastifyInstance, deps: TaskApiRoutesDeps): void {
  app.post(PATH, { schema: TaskApiSubmitSchema }, async (request, reply) => {
    const key = requireKey(request);
    if (deps.limiter) await admitKey(key, reply, deps.limiter);
    const idempotencyKey = readIdempotencyKey(request);
    const body = asObject(request.body);
    const { openai, callbackUrl, names } = toOpenAIBody(body, deps.catalogue, deps.served);
    const signal = abortOnClientClose(request, reply);
    const parsed = renamingParams(names, () => parseImageRequest({ endpoint: 'generations', body: openai }, deps.catalogue, request.id));
    request.logLine?.noteJob(parsed.job);
    if (parsed.job.stream) {
      throw invalidRequest('stream', 'unsupported_parameter', 'Tasks are asynchronous: poll the task or pass callback_url instead of stream.');
    }
    const resolved = await renamingParamsAsync(names, () => deps.inputs.resolve(parsed.job, parsed.inputs, signal));
    const { task } = await deps.tasks.submit({
      job: withInputs(parsed.job, resolved),
      key,
      dialect: 'task_api',
      callbackUrl,
      idempotencyKey,
      requestFingerprint: canonicalJson(body),
      sentBody: body,
      traceparent: request.logLine?.span.traceparent(),
    });
    // A replayed Idempotency-Key answers with the earlier task as it is now.
    return success({ taskId: task.id, state: taskApiView(task, deps.sign).state });
  });
}

/** Task queries: register in a task-owner group of the task API dialect; a key sees only its own tasks. */
export function registerTaskApiQueryRoute(scope: FastifyInstance, deps: Pick<TaskApiRoutesDeps, 'tasks' | 'sign'>): void {
  const app = scope.withTypeProvider<TypeBoxTypeProvider>();
  app.get(PATH, { schema: TaskApiQuerySchema }, async (request) => {
    const key = requireKey(request);
    const taskId = request.query.task_id;
    if (taskId === '') throw invalidRequest('task_id', 'missing_required_parameter', "Missing required parameter: 'task_id'.");
    const task = await deps.tasks.get(taskId.trim(), key);
    if (!task) throw gatewayError('task_not_found', 'task not found', { param: 'task_id' });
    return success(taskApiView(task, deps.sign));
  });
}

/** The auth hook sets apiKey for /api/v1/; should it not have run, refuse rather than serve key-less. */
function requireKey(request: FastifyRequest): KeyIdentity {
  if (!request.apiKey) throw invalidApiKey("You didn't provide an API key. Send it as 'Authorization: Bearer YOUR_KEY'.");
  return request.apiKey;
}

type Body = Record<string, unknown>;

function asObject(raw: unknown): Body {
  if (raw === undefined) throw emptyBody();
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw invalidRequest(null, 'invalid_request', 'The request body must be a JSON object.');
  }
  return raw as Body;
}

/** How the OpenAI body's params map back to the names the client sent. */
interface ParamNames {
  /** What `image` (the list) was called: image_urls, image_url, or image itself. */
  list: 'image' | 'image_urls' | 'image_url';
  /** `size` came from aspect_ratio. */
  sizeFromRatio: boolean;
}

/** Task API fields -> the OpenAI generations body; the task-API-only fields are removed from it. */
function toOpenAIBody(body: Body, catalogue: ModelCatalogue, served: ServedModels | undefined): { openai: Body; callbackUrl: unknown; names: ParamNames } {
  const given = (k: string) => body[k] !== undefined && body[k] !== null;
  const model = requiredModel(body, catalogue, served);
  // fromEntries keeps a `__proto__` key as data instead of re-parenting the object.
  const openai: Body = Object.fromEntries(
    Object.entries(body).filter(
      ([k]) => !['aspect_ratio', 'image_url', 'image_urls', 'callback_url'].includes(k) && !(k === 'nsfw_checker' && body[k] === null),
    ),
  );

  let sizeFromRatio = false;
  if (given('aspect_ratio')) {
    if (given('size')) throw invalidRequest('aspect_ratio', 'invalid_value', 'Send aspect_ratio or size, not both.');
    openai.size = sizeForModel(parseAspectRatio(body.aspect_ratio), model);
    sizeFromRatio = true;
  }

  let list: ParamNames['list'] = 'image';
  const urls = given('image_urls') ? imageUrls(body.image_urls) : [];
  if (given('image_url') && given('image_urls')) throw invalidRequest('image_url', 'invalid_value', 'Send image_url or image_urls, not both.');
  if ((given('image_url') || urls.length > 0) && given('image')) {
    throw invalidRequest('image', 'invalid_value', 'Send image_url, image_urls or image, not more than one of them.');
  }
  if (given('image_url')) {
    if (typeof body.image_url !== 'string') throw invalidRequest('image_url', 'invalid_type', 'image_url must be a string (an http(s) URL).');
    openai.image = [body.image_url];
    list = 'image_url';
  } else if (urls.length > 0) {
    openai.image = urls;
    list = 'image_urls';
  }

  if (given('nsfw_checker') && typeof body.nsfw_checker !== 'boolean') throw invalidRequest('nsfw_checker', 'invalid_type', 'nsfw_checker must be a boolean.');
  // Checked (type, form and address) by the task service, the same way for both dialects.
  return { openai, callbackUrl: body.callback_url, names: { list, sizeFromRatio } };
}

/** Required in this dialect; an unknown or unserved name is a 400 here (404 means "task not found" to these clients). */
function requiredModel(body: Body, catalogue: ModelCatalogue, served: ServedModels | undefined): ModelSpec {
  const name = body.model;
  if (name === undefined || name === null || name === '') throw invalidRequest('model', 'missing_required_parameter', "Missing required parameter: 'model'.");
  if (typeof name !== 'string') throw invalidRequest('model', 'invalid_type', 'model must be a string.');
  const model = catalogue.get(name.trim());
  if (!model) throw invalidRequest('model', 'unsupported_model', `The model '${name}' does not exist or you do not have access to it.`);
  if (served && !served.serves(model.id)) {
    const { message } = modelNotServed(model.id, served.ids());
    throw invalidRequest('model', 'unsupported_model', message);
  }
  return model;
}

/** An array of at most 16 (the items are checked by the parser, as image[i] -> image_urls[i]). An empty array is no images. */
function imageUrls(value: unknown): unknown[] {
  if (!Array.isArray(value)) throw invalidRequest('image_urls', 'invalid_type', 'image_urls must be an array of http(s) URLs.');
  if (value.length > MAX_INPUT_IMAGES) {
    throw invalidRequest('image_urls', 'too_many_images', `image_urls has ${value.length} URLs; at most ${MAX_INPUT_IMAGES} are accepted.`);
  }
  return value;
}

function renamingParams<T>(names: ParamNames, run: () => T): T {
  try {
    return run();
  } catch (err) {
    throw renamed(err, names);
  }
}

async function renamingParamsAsync<T>(names: ParamNames, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw renamed(err, names);
  }
}

const ITEM_PARAM = /^image\[(\d+)\](.*)$/;

/** An error about `image`/`image[i]`/`size` renamed to the field the client sent (param and message). */
function renamed(err: unknown, names: ParamNames): unknown {
  if (!(err instanceof GatewayError) || err.param === null) return err;
  const withParam = (param: string, message: string) => err.withParam(param, message);
  const { param, message } = err;
  if (param === 'size' && names.sizeFromRatio) return withParam('aspect_ratio', `${message} (the size aspect_ratio asked for)`);
  if (names.list === 'image') return err;
  if (param === 'image') return withParam(names.list, message.replaceAll("'image'", `'${names.list}'`));
  const item = ITEM_PARAM.exec(param);
  if (!item) return err;
  const was = `image[${item[1]}]`;
  const now = names.list === 'image_url' ? 'image_url' : `image_urls[${item[1]}]`;
  return withParam(`${now}${item[2] ?? ''}`, message.replaceAll(was, now));
}

/** JSON with object keys sorted at every level: the same body always gives the same text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== 'object' || value === null) return value;
  const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries.map(([k, v]) => [k, sortKeys(v)]));
}
