/**
 * Gemini's image models' `POST …/models/{model}:generateContent` as a parameter map (../parameter-map.ts),
 * one per API: the Gemini API's and Vertex AI's take the same body (Google's GenerateContentRequest)
 * except the output options, which only Vertex AI has.
 *
 * The body: `contents: [{role: "user", parts: [{text: prompt}, {inlineData: {mimeType, data}}...]}]`
 * and `generationConfig: {responseModalities: ["TEXT", "IMAGE"], imageConfig: {aspectRatio,
 * imageSize}, seed?}`. The table writes flat params (Google's field names) and geminiBody nests
 * them; a channel's params for the model are Google's generationConfig / imageConfig field names
 * too (e.g. `imageSize`, `temperature`), laid over.
 *
 * One image per call: Gemini's image models take no candidateCount, so n is n calls (provider.ts).
 * Reference images go as inlineData parts after the prompt; Gemini has no mask.
 */
import type { ResolvedInputs } from '../../core/image-input.js';
import type { ImageJob, OutputFormat } from '../../core/job.js';
import { bareBase64, inputMime, type FieldRules, type MapContext, type Param, type ParameterMap } from '../parameter-map.js';
import { drop, passthroughParams, passthroughRefusal, refused, unsupported, type GoogleApi } from './refusals.js';
import { GEMINI_ASPECT_RATIOS, googleShape } from './sizes.js';

/** The flat params that are not generationConfig's own: the prompt and the image parts, placed by geminiBody. */
const PROMPT = 'prompt';
const REFERENCE_PARTS = 'referenceParts';
/** Flat params that belong in generationConfig.imageConfig (the rest go to generationConfig). */
const IMAGE_CONFIG_FIELDS = new Set(['aspectRatio', 'imageSize', 'personGeneration', 'imageOutputOptions']);
/** Vertex AI's imageConfig.imageOutputOptions, written flat. */
const OUTPUT_MIME = 'outputMimeType';
const OUTPUT_QUALITY = 'outputCompressionQuality';

/** Google's own generation fields a client may send (unknown to the OpenAI dialect, so they arrive as passthrough). */
const GEMINI_PASSTHROUGH: Readonly<Record<string, string>> = { seed: 'seed' };

const MIME_OF: Readonly<Partial<Record<OutputFormat, string>>> = { png: 'image/png', jpeg: 'image/jpeg' };

/** The job's size as imageConfig: the ratio, and the tier above 1K (1K is the default; Gemini 2.5 Flash Image has no imageSize at all). */
function sizeParams(size: string): Param[] {
  if (size === 'auto') return [];
  const shape = googleShape(size, GEMINI_ASPECT_RATIOS);
  if (!shape) return [];
  return [['aspectRatio', shape.aspectRatio], ...(shape.tier !== '1K' ? [['imageSize', shape.tier] as const] : [])];
}

function referenceParts(inputs: ResolvedInputs): Param[] {
  if (inputs.images.length === 0) return [];
  return [[REFERENCE_PARTS, inputs.images.map((image) => ({ inlineData: { mimeType: inputMime(image), data: bareBase64(image) } }))]];
}

function geminiFields(api: GoogleApi): FieldRules {
  const vertex = api === 'vertex-ai';
  return {
    id: drop("the gateway's own request id"),
    operation: drop('generations and edits are one call: an edit is its input images beside the prompt'),
    model: drop('in the URL (models/{model}:generateContent)'),
    prompt: { to: PROMPT },
    n: drop('one image per call: Gemini image models take no candidateCount, so the provider makes n calls'),
    size: {
      spread: sizeParams,
      refuse: (size, job) =>
        size === 'auto' || googleShape(size, GEMINI_ASPECT_RATIOS)
          ? undefined
          : unsupported('size', job, `Gemini makes the aspect ratios ${GEMINI_ASPECT_RATIOS.join(', ')} only`),
    },
    quality: drop('Gemini has no quality: the catalogue refuses the field, the job carries only the price column'),
    responseFormat: drop('Gemini answers images inline (base64); the gateway answers in the client’s form'),
    outputFormat: vertex
      ? { to: OUTPUT_MIME, transform: (format) => MIME_OF[format] }
      : drop('the Gemini API answers PNG and has no output options: the gateway converts to the format asked'),
    outputCompression: vertex
      ? { to: OUTPUT_QUALITY, when: (job: ImageJob) => job.outputFormat === 'jpeg' }
      : drop('the gateway converts with it (the Gemini API has no output options)'),
    background: refused('background', 'Gemini makes opaque images only'),
    moderation: refused('moderation', 'Google’s safety settings are not mapped'),
    style: refused('style', 'Gemini has no style parameter: describe the style in the prompt'),
    watermark: refused('watermark', 'Gemini always marks its images (SynthID) and has no switch for it'),
    user: drop("an end-user id for OpenAI's abuse monitoring: Google has no such field, and leaving it out changes no image"),
    metadata: refused('metadata', 'Google has no metadata field'),
    inputs: {
      spread: referenceParts,
      refuse: (inputs, job) => (inputs.mask ? unsupported('mask', job, 'Gemini edits by instruction and takes no mask') : undefined),
    },
    stream: drop('Gemini has no partial images: a stream gets the final image as its completed event, from one whole answer'),
    inputFidelity: drop('OpenAI edits only; the catalogue refuses it for Gemini'),
    passthrough: {
      spread: (passthrough) => passthroughParams(passthrough, GEMINI_PASSTHROUGH),
      refuse: (passthrough, job) => passthroughRefusal(passthrough, job, GEMINI_PASSTHROUGH, api),
    },
  };
}

/** The flat params as Google's GenerateContentRequest. */
export function geminiBody(params: Readonly<Record<string, unknown>>, _ctx?: MapContext): Record<string, unknown> {
  const { [PROMPT]: prompt, [REFERENCE_PARTS]: parts, [OUTPUT_MIME]: mimeType, [OUTPUT_QUALITY]: quality, ...config } = params;
  const generationConfig: Record<string, unknown> = { responseModalities: ['TEXT', 'IMAGE'] };
  const imageConfig: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(config)) {
    if (IMAGE_CONFIG_FIELDS.has(name)) imageConfig[name] = value;
    else generationConfig[name] = value;
  }
  if (mimeType !== undefined) imageConfig.imageOutputOptions = { mimeType, ...(quality !== undefined ? { compressionQuality: quality } : {}) };
  if (Object.keys(imageConfig).length > 0) generationConfig.imageConfig = imageConfig;
  return {
    contents: [{ role: 'user', parts: [{ text: prompt }, ...(Array.isArray(parts) ? parts : [])] }],
    generationConfig,
  };
}

function geminiMap(api: GoogleApi): ParameterMap {
  return { encoding: 'json', fields: geminiFields(api), overrides: ['model', 'channel'], shape: geminiBody };
}

export const GEMINI_GENERATE_CONTENT: Readonly<Record<GoogleApi, ParameterMap>> = { gemini: geminiMap('gemini'), 'vertex-ai': geminiMap('vertex-ai') };
