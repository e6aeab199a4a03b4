/** The task API's answers -> task id / UpstreamTaskState / UpstreamFailure. */
import type { UpstreamImage } from '../../core/job.js';
import { parseRetryAfter, UpstreamFailure } from '../../core/upstream-failure.js';
import { envelopeData, nonEmpty, nonEmptyStrings, parseJsonObject, urlImages, type JsonObject } from '../async-task-kit.js';
import type { UpstreamTaskState } from '../provider.js';
import type { UpstreamResponse } from '../transport.js';

/** The task id from `{code:200, msg, data:{taskId, state:'pending'}}`. */
export function parseCreateResponse(res: UpstreamResponse): string {
  const taskId = successData(res).taskId;
  if (typeof taskId !== 'string' || taskId.length === 0) throw new UpstreamFailure('protocol', 'upstream answer has no taskId');
  return taskId;
}

/** The task view of GET /api/v1/images/generations?task_id=. */
export function parseTaskResponse(res: UpstreamResponse): UpstreamTaskState {
  const task = successData(res);
  switch (task.state) {
    case 'pending':
      return { status: 'pending' };
    case 'processing':
      return { status: 'running' };
    case 'completed':
      return { status: 'succeeded', result: { images: resultImages(task.resultUrls) } };
    case 'failed': {
      const reason = nonEmpty(task.failMsg) ?? 'upstream task failed';
      const code = nonEmpty(task.failCode);
      return code === undefined ? { status: 'failed', reason } : { status: 'failed', reason, code };
    }
    default:
      throw new UpstreamFailure('protocol', `upstream task has an unknown state: ${JSON.stringify(task.state)}`);
  }
}

/**
 * `{code, msg}` errors. The task API documents them with the matching HTTP status (400/401/402/404/500);
 * a 2xx carrying a 4xx/5xx `code` is read the same way, with `code` as the status.
 * Whether 402 (this account is out of credits) may fail over is UpstreamFailure.retryable's call.
 */
export function failureFromTaskApi(res: UpstreamResponse, json = parseJsonObject(res.body), status = res.status): UpstreamFailure {
  const code = json?.code;
  const message = nonEmpty(json?.msg) ?? nonEmpty(json?.message);
  return new UpstreamFailure(
    'http',
    `upstream answered ${status}${message ? `: ${message}` : ''}`,
    status,
    { ...(message !== undefined ? { message } : {}), code: code === undefined || code === null ? null : String(code) },
    parseRetryAfter(res.headers['retry-after']),
  );
}

function resultImages(urls: unknown): UpstreamImage[] {
  const list = nonEmptyStrings(urls);
  if (list.length === 0) throw new UpstreamFailure('protocol', 'upstream task completed without resultUrls');
  return urlImages(list);
}

/** `data` of a 2xx `{code:200, msg, data:{...}}`; a 4xx/5xx `code` is that HTTP failure. */
function successData(res: UpstreamResponse): JsonObject {
  return envelopeData(res, failureFromTaskApi, (json) => {
    if (json.code === undefined || Number(json.code) === 200) return;
    const code = Number(json.code);
    if (Number.isInteger(code) && code >= 400 && code <= 599) throw failureFromTaskApi(res, json, code);
    throw new UpstreamFailure('protocol', `upstream answered code ${JSON.stringify(json.code)}`);
  });
}
