/**
 * Replicate's predictions API (channel kind `replicate`): base_url https://api.replicate.com/v1,
 * the channel's key as a bearer token. A job runs on the Replicate model models.ts names for it
 * (an official model, or a channel's model_map entry by version), with the input fields of its
 * schema (parameters.ts); one prediction makes one image, so n images are n predictions, created
 * together and known by their ids joined with commas.
 *
 * Durability decides how a prediction is created. `Prefer: wait=N` holds the create call until
 * the prediction ends (or N seconds pass), and its id arrives only with that answer: a gateway
 * killed meanwhile would never learn it, and would create it again after a restart. So
 * - task runs (and streams) create without waiting, report the ids at once (hooks.onSubmitted,
 *   stored by the task worker), then poll `GET /predictions/{id}`; after a restart `resume` polls
 *   the stored ids and never creates again;
 * - sync answers (generateArriving, which only they call) create with `Prefer: wait` to save the
 *   polls, then poll what is still running.
 * A prediction is polled at the channel's base_url, never at the `urls.get` Replicate sends (the
 * key goes to the channel's origin only). A prediction nobody will come back for is
 * canceled (`POST /predictions/{id}/cancel`): the deadline passed, the caller left, or a sibling
 * failed; a task run stopped by a shutdown leaves it running, for the next run to resume.
 */
import type { Channel, ChannelCall } from '../../core/channel.js';
import type { GatewayError } from '../../core/errors.js';
import type { ImageJob, ProviderHooks, ProviderResult } from '../../core/job.js';
import { abandoned as runAbandoned } from '../../core/run-stop.js';
import { UpstreamFailure } from '../../core/upstream-failure.js';
import { sendToChannel } from '../async-task-kit.js';
import { pollUntilDone, submitAndPoll, submitAndPollWithCleanup } from '../async-polling.js';
import { encodeParameters, refusalOf } from '../parameter-map.js';
import type { AsyncProvider, Provider, UpstreamTaskState } from '../provider.js';
import type { Transport } from '../transport.js';
import { createPath, routeOf, schemaOf } from './models.js';
import { REPLICATE_MAPS } from './parameters.js';
import { parsePrediction, type Prediction } from './response.js';

/** Replicate holds a `Prefer: wait` create at most this long. */
const MAX_WAIT_SECONDS = 60;
/** What the create call's own timeout keeps beyond the wait, for the answer to arrive. */
const WAIT_MARGIN_MS = 5_000;
/** How long a cancel may take; nobody waits for it. */
const CANCEL_TIMEOUT_MS = 10_000;

export class ReplicateProvider implements Provider {
  private readonly predictions: Predictions;

  constructor(readonly transport: Transport) {
    this.predictions = new Predictions(transport);
  }

  /** Only a model this channel knows Replicate's name for (built in, or its model_map); no variations. */
  accepts(job: ImageJob, channel: Channel): boolean {
    return job.operation !== 'variation' && routeOf(job, channel) !== undefined;
  }

  /** What the model's input schema cannot take, as the client's 400 naming the field. */
  refuses(job: ImageJob): GatewayError | undefined {
    return refusalOf(REPLICATE_MAPS[schemaOf(job)], job);
  }

  /** Task runs and streams: created without waiting, the ids reported at once, then polled. */
  async generate(job: ImageJob, call: ChannelCall, signal: AbortSignal, hooks: ProviderHooks = {}): Promise<ProviderResult> {
    return submitAndPollWithCleanup(this.predictions, job, call, signal, hooks, (ids) => {
      if (abandoned(signal)) this.predictions.cancel(ids, call);
    });
  }

  /** Sync answers: created with `Prefer: wait`, so a quick model answers in the create call. */
  async generateArriving(job: ImageJob, call: ChannelCall, signal: AbortSignal): Promise<ProviderResult> {
    const predictions = await this.predictions.create(job, call, signal, waitSeconds(call));
    const ids = joinIds(predictions);
    try {
      const state = combinedState(predictions.map((p) => p.state));
      if (state.status === 'succeeded') return state.result;
      if (state.status === 'failed') throw new UpstreamFailure('task_failed', state.reason);
      return await pollUntilDone(this.predictions, ids, call, signal);
    } catch (err) {
      if (abandoned(signal)) this.predictions.cancel(ids, call);
      throw err;
    }
  }

  /** Predictions an earlier task run created (their ids stored): polled, never created again. */
  async resume(ids: string, call: ChannelCall, signal: AbortSignal): Promise<ProviderResult> {
    try {
      return await pollUntilDone(this.predictions, ids, call, signal);
    } catch (err) {
      if (abandoned(signal)) this.predictions.cancel(ids, call);
      throw err;
    }
  }
}

/** A job's predictions as one upstream task: created together, polled together, their ids joined. */
class Predictions implements AsyncProvider {
  constructor(private readonly transport: Transport) {}

  async submit(job: ImageJob, call: ChannelCall, signal: AbortSignal): Promise<{ upstreamTaskId: string }> {
    return { upstreamTaskId: joinIds(await this.create(job, call, signal, undefined)) };
  }

  /** n predictions at once; when one cannot be created, the others are canceled and its failure thrown. */
  async create(job: ImageJob, call: ChannelCall, signal: AbortSignal, wait: number | undefined): Promise<Prediction[]> {
    const route = routeOf(job, call.channel);
    // accepts() keeps unknown models away; reaching here without a route is a routing bug.
    if (route === undefined) throw new UpstreamFailure('protocol', `${job.model.id} has no Replicate model on channel ${call.channel.name}`);
    const url = replicateUrl(call.channel, createPath(route));
    const headers = wait !== undefined ? { prefer: `wait=${wait}` } : undefined;
    const results = await Promise.allSettled(
      Array.from({ length: job.n }, async () => {
        const { body, contentType } = encodeParameters(REPLICATE_MAPS[schemaOf(job)], { job, channel: call.channel, stream: false });
        return parsePrediction(
          await sendToChannel(this.transport, call, { method: 'POST', url, ...(headers ? { headers } : {}), raw: { body, contentType } }, signal),
        );
      }),
    );
    const made = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failure = results.find((r) => r.status === 'rejected');
    if (failure === undefined) return made;
    if (made.length > 0) this.cancel(joinIds(made), call);
    throw failure.reason;
  }

  async poll(ids: string, call: ChannelCall, signal: AbortSignal): Promise<UpstreamTaskState> {
    const polled = await Promise.all(
      splitIds(ids).map(async (id) =>
        parsePrediction(
          await sendToChannel(this.transport, call, { method: 'GET', url: replicateUrl(call.channel, `/predictions/${encodeURIComponent(id)}`) }, signal),
        ),
      ),
    );
    return combinedState(polled.map((p) => p.state));
  }

  /** Fire and forget: a cancel that fails leaves a prediction Replicate ends (and bills) by itself. */
  cancel(ids: string, call: ChannelCall): void {
    const signal = AbortSignal.timeout(CANCEL_TIMEOUT_MS);
    for (const id of splitIds(ids)) {
      const url = replicateUrl(call.channel, `/predictions/${encodeURIComponent(id)}/cancel`);
      sendToChannel(this.transport, call, { method: 'POST', url }, signal).catch(() => {});
    }
  }

  generate(job: ImageJob, call: ChannelCall, signal: AbortSignal, hooks?: ProviderHooks): Promise<ProviderResult> {
    return submitAndPoll(this, job, call, signal, hooks);
  }

  resume(ids: string, call: ChannelCall, signal: AbortSignal): Promise<ProviderResult> {
    return pollUntilDone(this, ids, call, signal);
  }
}

/** Several predictions as one state: the first failure, else all succeeded (images in order), else still running. */
function combinedState(states: readonly UpstreamTaskState[]): UpstreamTaskState {
  const failure = states.find((s) => s.status === 'failed');
  if (failure) return failure;
  const done = states.flatMap((s) => (s.status === 'succeeded' ? [s.result] : []));
  // One model made them all: the first's fields (its output format) speak for every image.
  if (done.length === states.length) return { status: 'succeeded', result: { ...done[0], images: done.flatMap((r) => r.images) } };
  return { status: states.some((s) => s.status === 'running') ? 'running' : 'pending' };
}

/**
 * Whether predictions whose wait ended without their images are abandoned: always (the deadline
 * passed, the caller left, one of them failed and the others' images would be thrown away), except
 * when a shutdown stopped a task run (GatewayShutdown): the next run resumes them.
 */
function abandoned(signal: AbortSignal): boolean {
  return !signal.aborted || runAbandoned(signal);
}

/** Seconds of `Prefer: wait` the channel's timeout leaves room for; undefined: none (poll from the start). */
function waitSeconds(call: ChannelCall): number | undefined {
  const seconds = Math.min(MAX_WAIT_SECONDS, Math.floor((call.channel.timeoutMs - WAIT_MARGIN_MS) / 1000));
  return seconds >= 1 ? seconds : undefined;
}

const ID_SEPARATOR = ',';

function joinIds(predictions: readonly Prediction[]): string {
  return predictions.map((p) => p.id).join(ID_SEPARATOR);
}

function splitIds(ids: string): string[] {
  return ids.split(ID_SEPARATOR).filter((id) => id !== '');
}

function replicateUrl(channel: Channel, path: string): string {
  return `${channel.baseUrl.replace(/\/+$/, '')}${path}`;
}
