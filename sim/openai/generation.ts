// POST /v1/images/generations: the JSON body read into a plan, the model's rules applied
// (models.ts, from the gateway's catalogue) and OpenAI's own checks (params.ts).
import { modelIds, modelSpec } from './models.js';
import {
  invalidValue,
  isRelayObject,
  readCount,
  readDalleResponseFormat,
  readEnum,
  readPrompt,
  readStream,
  readString,
  rejectUnknownParams,
  resolveGptOutput,
  resolveQuality,
  resolveSize,
  withRelay,
  type GenerationPlan,
  type GptOutput,
  type JsonObject,
  type RelayOption,
} from './params.js';

const KNOWN_PARAMS = new Set([
  'prompt',
  'model',
  'n',
  'quality',
  'response_format',
  'output_format',
  'output_compression',
  'stream',
  'partial_images',
  'size',
  'moderation',
  'background',
  'style',
  'user',
]);
/** Parameters that make a model-less request default to a GPT image model (per the spec). */
const GPT_ONLY_PARAMS = ['output_format', 'output_compression', 'background', 'moderation', 'partial_images'];

function resolveModel(body: JsonObject): string {
  const model = readString(body, 'model');
  if (model !== undefined) return model;
  // Spec: "Defaults to dall-e-2 unless a parameter specific to the GPT image models is used."
  const gptHint = GPT_ONLY_PARAMS.some((key) => body[key] !== undefined && body[key] !== null);
  return gptHint ? 'gpt-image-1' : 'dall-e-2';
}

export function parseGeneration(body: JsonObject, relay: RelayOption | undefined): GenerationPlan {
  const model = resolveModel(body);
  const spec = modelSpec(model, relay !== undefined);
  if (spec === undefined) throw invalidValue('model', model, modelIds(relay !== undefined));
  // Relays are lenient: they forward what they understand and ignore the rest.
  if (relay === undefined) rejectUnknownParams(body, KNOWN_PARAMS, spec.family);
  const prompt = readPrompt(body, spec);
  const n = readCount(body, spec.family);
  const { width, height } = resolveSize(body, spec);
  const quality = resolveQuality(body, spec);
  const stream = readStream(body, spec.family, relay);
  readString(body, 'user');
  const output: GptOutput = spec.family === 'gpt' ? resolveGptOutput(body, relay) : { format: 'png', compression: 100, background: 'opaque' };
  // A relay passes a `style` object on to its own upstreams; OpenAI takes only the enum.
  if (spec.family === 'dall-e-3' && !(relay !== undefined && isRelayObject(body.style))) readEnum(body, 'style', ['vivid', 'natural'] as const);
  const answer = spec.family === 'gpt' ? 'b64_json' : readDalleResponseFormat(body, relay);
  const plan: GenerationPlan = { model, family: spec.family, prompt, n, width, height, quality, ...output, answer };
  if (stream !== undefined) plan.stream = stream;
  return withRelay(plan, relay);
}
