/** What Google's image APIs cannot do, as the client's 400 naming the field (never dropped silently). */
import { invalidRequest, type GatewayError } from '../../core/errors.js';
import type { ImageJob } from '../../core/job.js';
import type { DropRule, ParamRule } from '../parameter-map.js';

/** Which of Google's two doors a channel uses: the Gemini API (an API key) or Vertex AI (a service account). */
export type GoogleApi = 'gemini' | 'vertex-ai';

export const API_NAMES: Readonly<Record<GoogleApi, string>> = { gemini: 'the Gemini API', 'vertex-ai': 'Vertex AI' };

export function unsupported(param: string, job: ImageJob, why: string): GatewayError {
  return invalidRequest(param, 'unsupported_parameter', `${param} is not supported for ${job.model.id} on a Google channel (${why}).`);
}

/** A field Google has no param for: any value is the client's 400 (routing skips the channel for it), and never sent. */
export function refused<V>(param: string, why: string): ParamRule<V> {
  return { to: param, transform: () => undefined, refuse: (_value, job) => unsupported(param, job, why) };
}

export const drop = (why: string): DropRule => ({ drop: why });

/** The passthrough fields a table takes, renamed to Google's names; any other is refused, naming it. */
export function passthroughRefusal(
  passthrough: Readonly<Record<string, unknown>>,
  job: ImageJob,
  taken: Readonly<Record<string, string>>,
  api: GoogleApi,
): GatewayError | undefined {
  const foreign = Object.keys(passthrough).find((name) => !Object.hasOwn(taken, name));
  if (foreign === undefined) return undefined;
  const known = Object.keys(taken);
  return unsupported(
    foreign,
    job,
    known.length > 0 ? `Google's own fields here are ${known.join(', ')} on ${API_NAMES[api]}` : `${API_NAMES[api]} has no such parameter`,
  );
}

/** The passthrough fields a table takes, under Google's names. */
export function passthroughParams(passthrough: Readonly<Record<string, unknown>>, taken: Readonly<Record<string, string>>): [string, unknown][] {
  return Object.entries(passthrough).flatMap(([name, value]) => {
    const to = Object.hasOwn(taken, name) ? taken[name] : undefined;
    return to !== undefined && value !== null && value !== undefined ? [[to, value] as [string, unknown]] : [];
  });
}
