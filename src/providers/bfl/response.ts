/**
 * BFL's answers -> task ids, UpstreamTaskState and UpstreamFailure (BFL's API reference, read
 * 2026-11-30).
 *
 * - `POST /v1/{model}`: `{id, polling_url}` (and `cost` in credits, `input_mp`, `output_mp`).
 * - `GET polling_url` (`/v1/get_result?id=`): `{id, status, result, progress, details}`; status is
 *   `Pending` (also `Reasoning`, `Generating` on the newer models), `Ready` with `result.sample`
 *   (a URL valid 10 minutes: output/ downloads it at once), `Request Moderated` or
 *   `Content Moderated` (`details['Moderation Reasons']`), `Error`, or `Task not found`.
 *
 * Errors are FastAPI's: `{detail: "..."}`, or for a 422 `{detail: [{loc: ["body", field], msg}]}`.
 * - a moderated task is the client's 400 `content_policy_violation` with BFL's reasons;
 * - 422 is the client's 400 naming the field BFL names;
 * - 402 (out of credits) and 429 (too many active tasks) fail over to another channel;
 * - 401 and 403 disable the key (routing does, for every vendor).
 */
import { contentRefusal, parseRetryAfter, UpstreamFailure, type UpstreamErrorBody } from '../../core/upstream-failure.js';
import { isJsonObject, nonEmpty, nonEmptyStrings, parseJsonObject, urlImages, type JsonObject } from '../async-task-kit.js';
import type { UpstreamTaskState } from '../provider.js';
import type { UpstreamResponse } from '../transport.js';

/** A task BFL accepted: its id, and where BFL says to poll it (regional: the region that took it). */
export interface BflSubmitted {
  readonly id: string;
  readonly pollingUrl: string | undefined;
}

export function parseSubmitAnswer(res: UpstreamResponse): BflSubmitted {
  const json = successJson(res);
  const id = nonEmpty(json.id);
  if (id === undefined) throw new UpstreamFailure('protocol', 'BFL answered without a task id');
  return { id, pollingUrl: nonEmpty(json.polling_url) };
}

/** Where a BFL task stands. A moderated task throws (the client's 400, never retried). */
export function parseResultAnswer(res: UpstreamResponse): UpstreamTaskState {
  const json = res.status === 404 ? parseJsonObject(res.body) : successJson(res);
  const status = json?.status;
  // get_result may answer an unknown id with 404 and the status; any other 404 is a failure as usual.
  if (res.status === 404 && status !== 'Task not found') throw failureFromBfl(res);
  switch (status) {
    case 'Pending':
      return { status: 'pending' };
    case 'Reasoning':
    case 'Generating':
      return { status: 'running' };
    case 'Ready':
      return readyResult(json ?? {});
    case 'Request Moderated':
    case 'Content Moderated':
      throw moderated(status, json ?? {});
    case 'Error':
      return { status: 'failed', reason: `BFL's task failed: ${detailText(json?.details) ?? nonEmpty(json?.error) ?? 'no reason given'}` };
    case 'Task not found':
      return { status: 'failed', reason: 'BFL does not know the task (it expired, or was made with another key or region)', code: 'task_not_found' };
    default:
      throw new UpstreamFailure('protocol', `BFL task has an unknown status: ${JSON.stringify(status)}`);
  }
}

/** A non-2xx BFL answer, in terms routing acts on. */
export function failureFromBfl(res: UpstreamResponse): UpstreamFailure {
  const json = parseJsonObject(res.body);
  const retryAfter = parseRetryAfter(res.headers['retry-after']);
  if (res.status === 422) {
    const { field, message } = validationError(json?.detail);
    const said: UpstreamErrorBody = { message: `BFL refused ${field ?? 'the request'}: ${message}`, code: 'invalid_value', param: field ?? null };
    return new UpstreamFailure('http', `BFL answered 422${field ? ` (${field})` : ''}: ${message}`, 400, said);
  }
  const message = detailText(json?.detail) ?? nonEmpty(json?.message) ?? nonEmpty(json?.error);
  const said: UpstreamErrorBody = message !== undefined ? { message } : {};
  return new UpstreamFailure('http', `BFL answered ${res.status}${message ? `: ${message}` : ''}`, res.status, said, retryAfter);
}

function readyResult(json: JsonObject): UpstreamTaskState {
  const sample = isJsonObject(json.result) ? nonEmpty(json.result.sample) : undefined;
  if (sample === undefined) throw new UpstreamFailure('protocol', 'BFL task is Ready without result.sample');
  return { status: 'succeeded', result: { images: urlImages([sample]) } };
}

function moderated(status: string, json: JsonObject): UpstreamFailure {
  const details = isJsonObject(json.details) ? json.details : {};
  const reasons = nonEmptyStrings(details['Moderation Reasons']);
  const why = reasons.length > 0 ? reasons.join(', ') : (detailText(json.details) ?? 'no reason given');
  const reason = `${status === 'Request Moderated' ? 'BFL moderated the request' : 'BFL moderated the generated image'} (${why})`;
  return contentRefusal(`BFL task ${status}: ${why}`, reason);
}

/** FastAPI's 422 detail: the first error's field (its `loc` after `body`) and message. */
function validationError(detail: unknown): { field: string | undefined; message: string } {
  const first = Array.isArray(detail) ? detail.find(isJsonObject) : undefined;
  if (!first) return { field: undefined, message: detailText(detail) ?? 'invalid request' };
  const loc = Array.isArray(first.loc) ? first.loc.filter((part): part is string => typeof part === 'string' && part !== 'body') : [];
  return { field: loc.at(-1), message: nonEmpty(first.msg) ?? 'invalid value' };
}

/** A detail as text: a string, or an object's JSON (short). */
function detailText(detail: unknown): string | undefined {
  if (typeof detail === 'string') return nonEmpty(detail);
  if (isJsonObject(detail) && Object.keys(detail).length > 0) return JSON.stringify(detail).slice(0, 300);
  return undefined;
}

function successJson(res: UpstreamResponse): JsonObject {
  if (res.status < 200 || res.status >= 300) throw failureFromBfl(res);
  const json = parseJsonObject(res.body);
  if (!json) throw new UpstreamFailure('protocol', 'BFL answered with malformed JSON');
  return json;
}
