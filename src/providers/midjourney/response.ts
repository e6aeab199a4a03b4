/**
 * A midjourney-proxy's answers -> task ids, tasks, and UpstreamFailure (novicezk/midjourney-proxy's
 * SubmitResultVO, Task and ReturnCode; trueai-org/midjourney-proxy's TaskInfo, its buttons and
 * MODAL/CANCEL states; new-api's Midjourney relay, which reads the same codes).
 *
 * A submission answers HTTP 200 with `{code, description, result: taskId, properties}`:
 * - 1 submitted; 22 queued (still a task); 21 the task exists already: an action (U1...) asked
 *   twice answers the first one's id, so a repeated upscale is never a second job;
 * - 23 the queue is full: a 429 (retried later, or another channel);
 * - 24 a banned word: the client's 400 `content_policy_violation`, with the word (`properties.bannedWord`);
 * - 3 no account instance (or, for an action, the task it acts on is gone): a 503, another channel may serve;
 * - 4 a validation error: the client's 400 with the proxy's description (naming `prompt` or `image`
 *   when it speaks of the prompt or the base64 images); 9 and any other code: a 502.
 * A wrong `mj-api-secret` is HTTP 401 (novicezk's interceptor, empty body): routing disables the key.
 *
 * `GET /mj/task/{id}/fetch`: `{id, action, status, progress: "50%", imageUrl, failReason,
 * buttons: [{customId, label}]}`; status NOT_START, SUBMITTED, IN_PROGRESS, then SUCCESS (imageUrl
 * set) or FAILURE (failReason); trueai-org's also MODAL (waiting for a Remix confirmation) and
 * CANCEL. An unknown id is an empty answer (novicezk answers `null`). A FAILURE whose reason is
 * Midjourney's moderation ("Banned prompt detected", "community standards", "image filters") is a
 * content refusal; any other is the task's failure with the proxy's reason.
 */
import { contentRefusal, parseRetryAfter, UpstreamFailure } from '../../core/upstream-failure.js';
import { isJsonObject, nonEmpty, type JsonObject } from '../async-task-kit.js';
import type { PolledState } from '../async-polling.js';
import type { UpstreamResponse } from '../transport.js';

/** The code OpenAI's Images API gives a refused prompt; clients of this gateway expect it. */
const MODERATION_REASONS = /banned prompt|moderat|community (?:standards|guidelines)|image filters|可能包含敏感词/i;

/** A proxy task as fetched: what the provider needs of it. */
export interface ProxyTask {
  readonly id: string;
  readonly status: string;
  readonly imageUrl?: string;
  readonly failReason?: string;
  /** Buttons' customIds (trueai-org, the plus proxy): `MJ::JOB::upsample::2::<hash>` is U2. */
  readonly customIds: readonly string[];
}

/** The task id a submission (imagine or action) answered; any other code throws as the header says. */
export function parseSubmitAnswer(res: UpstreamResponse): string {
  const json = proxyJson(res);
  const code = json.code;
  const description = nonEmpty(json.description) ?? '';
  const properties = isJsonObject(json.properties) ? json.properties : {};
  const id = nonEmpty(json.result) ?? (typeof json.result === 'number' ? String(json.result) : undefined);
  if ((code === 1 || code === 21 || code === 22) && id !== undefined) return id;
  if (code === 1 || code === 21 || code === 22) throw new UpstreamFailure('protocol', `the proxy answered code ${code} without a task id`);
  if (code === 24) {
    const word = nonEmpty(properties.bannedWord);
    const reason = `Midjourney's proxy refused the prompt: ${description || 'it may contain a banned word'}${word ? ` (banned word: ${word})` : ''}.`;
    throw contentRefusal(`midjourney-proxy answered code 24 ${description}`, reason);
  }
  const said = { message: description || `midjourney-proxy code ${String(code)}`, code: `midjourney_${String(code)}` };
  if (code === 23) throw new UpstreamFailure('http', `midjourney-proxy's queue is full (code 23): ${description}`, 429, said);
  if (code === 3) throw new UpstreamFailure('http', `midjourney-proxy has no account for it (code 3): ${description}`, 503, said);
  if (code === 4)
    throw new UpstreamFailure('http', `midjourney-proxy refused the request (code 4): ${description}`, 400, { ...said, param: validatedField(description) });
  throw new UpstreamFailure('http', `midjourney-proxy failed to submit (code ${String(code)}): ${description}`, 502, said);
}

/** A fetched task; null when the proxy does not know it (expired, or never made). */
export function parseTaskAnswer(res: UpstreamResponse): ProxyTask | null {
  if (res.status < 200 || res.status >= 300) throw failureFromProxy(res);
  const text = res.body.toString('utf8').trim();
  if (text === '' || text === 'null') return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UpstreamFailure('protocol', 'midjourney-proxy answered a task with malformed JSON');
  }
  if (!isJsonObject(value)) throw new UpstreamFailure('protocol', 'midjourney-proxy answered a task that is not an object');
  const id = nonEmpty(value.id) ?? '';
  const status = nonEmpty(value.status);
  if (status === undefined) throw new UpstreamFailure('protocol', `midjourney-proxy's task ${id} has no status`);
  const imageUrl = nonEmpty(value.imageUrl);
  const failReason = nonEmpty(value.failReason);
  return {
    id,
    status,
    ...(imageUrl !== undefined ? { imageUrl } : {}),
    ...(failReason !== undefined ? { failReason } : {}),
    customIds: customIdsOf(value.buttons),
  };
}

/** Where a task stands, for the poller: SUCCESS ends it with the task itself (its image and buttons). */
export function taskState(task: ProxyTask | null, id: string): PolledState<ProxyTask & { imageUrl: string }> {
  if (task === null) return { status: 'failed', reason: `midjourney-proxy does not know task ${id} (it expired, or was never made)` };
  switch (task.status) {
    case 'NOT_START':
    case 'SUBMITTED':
      return { status: 'pending' };
    case 'IN_PROGRESS':
      return { status: 'running' };
    case 'SUCCESS':
      if (task.imageUrl === undefined) throw new UpstreamFailure('protocol', `midjourney-proxy's task ${id} succeeded without an imageUrl`);
      return { status: 'succeeded', result: { ...task, imageUrl: task.imageUrl } };
    case 'FAILURE':
      return failedTask(id, task.failReason);
    case 'MODAL':
      return { status: 'failed', reason: `midjourney-proxy's task ${id} waits for a Remix confirmation: turn Remix mode off for the proxy's accounts` };
    case 'CANCEL':
      return { status: 'failed', reason: `midjourney-proxy's task ${id} was cancelled` };
    default:
      throw new UpstreamFailure('protocol', `midjourney-proxy's task ${id} has an unknown status: ${JSON.stringify(task.status)}`);
  }
}

/** A non-2xx answer, in terms routing acts on: 401/403 disable the key, 5xx and 429 are retried. */
export function failureFromProxy(res: UpstreamResponse): UpstreamFailure {
  const text = res.body.toString('utf8').slice(0, 300).trim();
  const status = res.status === 403 ? 401 : res.status;
  return new UpstreamFailure(
    'http',
    `midjourney-proxy answered ${res.status}${text ? `: ${text}` : ''}`,
    status,
    {},
    parseRetryAfter(res.headers['retry-after']),
  );
}

function proxyJson(res: UpstreamResponse): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(res.body.toString('utf8'));
  } catch {
    value = undefined;
  }
  // trueai-org answers an action on a task it does not know with HTTP 404 and the code-3 envelope.
  if (isJsonObject(value) && typeof value.code === 'number' && (res.status === 200 || res.status === 404)) return value;
  if (res.status < 200 || res.status >= 300) throw failureFromProxy(res);
  throw new UpstreamFailure('protocol', 'midjourney-proxy answered a submission without its {code, result} envelope');
}

/** The client's field a code-4 description is about ("prompt不能为空", "base64格式错误"), when it names one. */
function validatedField(description: string): string | null {
  if (/prompt/i.test(description)) return 'prompt';
  if (/base64|image/i.test(description)) return 'image';
  return null;
}

function customIdsOf(buttons: unknown): string[] {
  return (Array.isArray(buttons) ? buttons : []).flatMap((button: unknown) => {
    const id = isJsonObject(button) ? nonEmpty(button.customId) : undefined;
    return id === undefined ? [] : [id];
  });
}

/** A FAILURE: Midjourney's moderation throws (the client's 400); any other reason fails the task. */
function failedTask(id: string, reason: string | undefined): PolledState<never> {
  const said = reason ?? 'the Midjourney task failed';
  if (MODERATION_REASONS.test(said)) throw contentRefusal(`midjourney-proxy's task ${id} failed: ${said}`, said);
  return { status: 'failed', reason: `midjourney-proxy's task ${id} failed: ${said}` };
}
