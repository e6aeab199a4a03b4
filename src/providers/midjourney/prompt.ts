/**
 * The prompt a Midjourney imagine carries: the caller's text, then the flags the gateway owns,
 * `--ar` from `size` and the model's version flag (`--v 7`, `--niji 6`; none for `midjourney`),
 * by its upstream name: the catalogue's, or a channel's model_map entry, which may also be a flag
 * itself (`upstream_model: "--v 6"`).
 * Midjourney reads flags at the end of the prompt, in any order, so they are appended.
 *
 * A flag the caller wrote is passed as written, except where it would contradict what the
 * request says elsewhere (the answer's size and model must be true): an `--ar`/`--aspect` other
 * than the size's ratio, a version flag (`--v`, `--version`, `--niji`) other than the model's,
 * and `--repeat`/`--r` (several grids from one request) are the client's 400 naming `prompt`.
 * A flag that agrees is not added twice. `midjourney` (no version flag) takes the prompt's own.
 */
import { MIDJOURNEY_SIZES } from '../../core/catalogue/midjourney.js';
import { upstreamModelFor, type Channel } from '../../core/channel.js';
import { invalidRequest, type GatewayError } from '../../core/errors.js';
import type { ImageJob } from '../../core/job.js';

/** One `--name value` of a prompt: the name lowercased, the value as written (several words for `--no red green`). */
export interface PromptFlag {
  readonly name: string;
  readonly value: string;
}

const RATIO_OF_SIZE: ReadonlyMap<string, string> = new Map(Object.entries(MIDJOURNEY_SIZES).map(([ratio, size]) => [size, ratio]));
const ASPECT_FLAGS = new Set(['ar', 'aspect']);
const VERSION_FLAGS = new Set(['v', 'version', 'niji']);
const REPEAT_FLAGS = new Set(['r', 'repeat']);

/** The catalogue's versions, by upstream model name; `midjourney` has none (the proxy account's own). */
const VERSIONS: ReadonlyMap<string, string> = new Map([
  ['midjourney-v7', '--v 7'],
  ['midjourney-v6.1', '--v 6.1'],
  ['niji-6', '--niji 6'],
]);

/** The flags of a prompt, in order. Midjourney also takes an em dash (phones turn `--` into one). */
export function promptFlags(prompt: string): PromptFlag[] {
  const flags: PromptFlag[] = [];
  for (const match of prompt.matchAll(/(?:^|\s)(?:--|—)([a-zA-Z]+)((?:\s+(?!--|—)\S+)*)/g)) {
    flags.push({ name: (match[1] ?? '').toLowerCase(), value: (match[2] ?? '').trim() });
  }
  return flags;
}

/** The version flag of an upstream model name (or the flag it is), or undefined for the account's own version. */
export function versionFlagOf(upstreamModel: string): PromptFlag | undefined {
  const flag = upstreamModel.startsWith('--') ? upstreamModel : VERSIONS.get(upstreamModel);
  return flag === undefined ? undefined : promptFlags(flag)[0];
}

/** Why the prompt's own flags contradict the request, as the client's 400; undefined when they agree. */
export function promptRefusal(job: ImageJob, upstreamModel = job.model.upstreamModel): GatewayError | undefined {
  const flags = promptFlags(job.prompt);
  const repeat = flags.find((flag) => REPEAT_FLAGS.has(flag.name));
  if (repeat) return refused(`--${repeat.name} is not taken: one request is one Midjourney imagine (n up to 4 of its images).`);
  const ratio = RATIO_OF_SIZE.get(job.size);
  const aspect = flags.find((flag) => ASPECT_FLAGS.has(flag.name));
  if (aspect && ratio !== undefined && reducedRatio(aspect.value) !== ratio) {
    const wanted = reducedRatio(aspect.value);
    const size = wanted === undefined ? undefined : sizeOfRatio(wanted);
    return refused(
      `The prompt's --${aspect.name} ${aspect.value} contradicts size ${job.size} (${ratio}): ${
        size ? `send size ${size} for ${wanted}` : `Midjourney's sizes here are ${Object.keys(MIDJOURNEY_SIZES).join(', ')}`
      } and leave --${aspect.name} out; the gateway adds it from size.`,
    );
  }
  const model = versionFlagOf(upstreamModel);
  const version = flags.find((flag) => VERSION_FLAGS.has(flag.name));
  if (model && version && !sameVersion(model, version)) {
    return refused(
      `The prompt's --${version.name} ${version.value} contradicts the model ${job.model.id} (--${model.name} ${model.value}): choose the model of that version, or 'midjourney' to send the prompt's own version flag.`,
    );
  }
  return undefined;
}

/** The prompt sent: the caller's, then `--ar` and the version flag unless it already says them. */
export function midjourneyPrompt(job: ImageJob, channel: Channel): string {
  const flags = promptFlags(job.prompt);
  const added: string[] = [];
  const ratio = RATIO_OF_SIZE.get(job.size);
  if (ratio !== undefined && ratio !== '1:1' && !flags.some((flag) => ASPECT_FLAGS.has(flag.name))) added.push(`--ar ${ratio}`);
  const model = versionFlagOf(upstreamModelFor(channel, job.model.id, job.model.upstreamModel));
  if (model && !flags.some((flag) => VERSION_FLAGS.has(flag.name))) added.push(`--${model.name} ${model.value}`.trim());
  return [job.prompt.trim(), ...added].join(' ');
}

function refused(message: string): GatewayError {
  return invalidRequest('prompt', 'invalid_value', message);
}

/** `16:9` (or `32:18`) as its lowest terms; undefined when it is not W:H. */
function reducedRatio(value: string): string | undefined {
  const match = /^(\d{1,5}):(\d{1,5})$/.exec(value.trim());
  if (!match) return undefined;
  const width = Number(match[1]);
  const height = Number(match[2]);
  if (width === 0 || height === 0) return undefined;
  const divisor = gcd(width, height);
  return `${width / divisor}:${height / divisor}`;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function sizeOfRatio(ratio: string): string | undefined {
  return Object.entries(MIDJOURNEY_SIZES).find(([known]) => known === ratio)?.[1];
}

/** `--version 7` is `--v 7`; `--v 7.0` is `--v 7`. */
function sameVersion(a: PromptFlag, b: PromptFlag): boolean {
  const family = (flag: PromptFlag) => (flag.name === 'version' ? 'v' : flag.name);
  const number = (flag: PromptFlag) => flag.value.replace(/\.0$/, '');
  return family(a) === family(b) && number(a) === number(b);
}
