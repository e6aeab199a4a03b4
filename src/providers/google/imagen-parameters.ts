/**
 * Imagen's `POST …/models/{model}:predict` as a parameter map, one per API: `instances: [{prompt}]`
 * and `parameters: {sampleCount, aspectRatio, sampleImageSize, personGeneration, outputOptions:
 * {mimeType, compressionQuality}, includeRaiReason, ...}` (Google's GenerateImages wire names, as
 * its genai SDKs send them). The table writes flat params (Google's names), imagenBody nests them;
 * a channel's params for the model are `parameters` field names, laid over.
 *
 * The Gemini API takes fewer of them than Vertex AI: seed, addWatermark and enhancePrompt are Vertex
 * AI's only (a 400 naming the field elsewhere). A seed needs the watermark off (`watermark: false`),
 * which Imagen adds by default and which makes it ignore seeds. Imagen 4 documents no negative prompt.
 * `includeRaiReason` is always asked for, so a filtered image comes back as its reason.
 */
import type { ImageJob, OutputFormat } from '../../core/job.js';
import type { FieldRules, MapContext, Param, ParameterMap } from '../parameter-map.js';
import { drop, passthroughParams, passthroughRefusal, refused, unsupported, type GoogleApi } from './refusals.js';
import { googleShape, IMAGEN_ASPECT_RATIOS } from './sizes.js';

const PROMPT = 'prompt';
const OUTPUT_MIME = 'outputMimeType';
const OUTPUT_QUALITY = 'outputCompressionQuality';

/** Passthrough fields (snake_case, as clients send them) -> Imagen's parameters. */
const IMAGEN_PASSTHROUGH: Readonly<Record<GoogleApi, Readonly<Record<string, string>>>> = {
  gemini: { person_generation: 'personGeneration' },
  'vertex-ai': { person_generation: 'personGeneration', seed: 'seed', enhance_prompt: 'enhancePrompt' },
};

const MIME_OF: Readonly<Partial<Record<OutputFormat, string>>> = { png: 'image/png', jpeg: 'image/jpeg' };

function sizeParams(size: string): Param[] {
  const shape = googleShape(size, IMAGEN_ASPECT_RATIOS);
  if (!shape) return [];
  return [['aspectRatio', shape.aspectRatio], ...(shape.tier !== '1K' ? [['sampleImageSize', shape.tier] as const] : [])];
}

function imagenFields(api: GoogleApi): FieldRules {
  const vertex = api === 'vertex-ai';
  const passthrough = IMAGEN_PASSTHROUGH[api];
  return {
    id: drop("the gateway's own request id"),
    operation: drop('generations only: Imagen models take no input images here (capabilities.edits is null)'),
    model: drop('in the URL (models/{model}:predict)'),
    prompt: { to: PROMPT },
    n: { to: 'sampleCount' },
    size: {
      spread: sizeParams,
      refuse: (size, job) =>
        googleShape(size, IMAGEN_ASPECT_RATIOS)
          ? undefined
          : unsupported('size', job, `Imagen makes the aspect ratios ${IMAGEN_ASPECT_RATIOS.join(', ')} only`),
    },
    quality: drop('Imagen has no quality: the catalogue refuses the field, the job carries only the price column'),
    responseFormat: drop('Imagen answers base64 images; the gateway answers in the client’s form'),
    // WebP is not Imagen's: it answers PNG and the gateway converts.
    outputFormat: { to: OUTPUT_MIME, transform: (format) => MIME_OF[format] },
    outputCompression: { to: OUTPUT_QUALITY, when: (job: ImageJob) => job.outputFormat === 'jpeg' },
    background: refused('background', 'Imagen makes opaque images only'),
    moderation: refused('moderation', 'Imagen’s safety settings are not mapped'),
    style: refused('style', 'Imagen has no style parameter: describe the style in the prompt'),
    watermark: vertex ? { to: 'addWatermark' } : refused('watermark', 'the Gemini API always marks Imagen images (SynthID); Vertex AI has addWatermark'),
    user: drop("an end-user id for OpenAI's abuse monitoring: Google has no such field, and leaving it out changes no image"),
    metadata: refused('metadata', 'Google has no metadata field'),
    inputs: drop('none: an Imagen model takes no input images (capabilities.edits is null)'),
    stream: drop('Imagen answers whole images: a stream waits for the predict answer and gets each as its completed event'),
    inputFidelity: drop('OpenAI edits only'),
    passthrough: {
      spread: (fields) => passthroughParams(fields, passthrough),
      refuse: (fields, job) =>
        passthroughRefusal(fields, job, passthrough, api) ??
        (fields.seed !== undefined && job.watermark !== false
          ? unsupported('seed', job, 'Imagen ignores a seed while it adds its watermark: send watermark: false with it')
          : undefined),
    },
  };
}

/** The flat params as Imagen's predict body. */
export function imagenBody(params: Readonly<Record<string, unknown>>, _ctx?: MapContext): Record<string, unknown> {
  const { [PROMPT]: prompt, [OUTPUT_MIME]: mimeType, [OUTPUT_QUALITY]: quality, ...parameters } = params;
  const outputOptions = mimeType !== undefined ? { outputOptions: { mimeType, ...(quality !== undefined ? { compressionQuality: quality } : {}) } } : {};
  return { instances: [{ prompt }], parameters: { includeRaiReason: true, ...parameters, ...outputOptions } };
}

function imagenMap(api: GoogleApi): ParameterMap {
  return { encoding: 'json', fields: imagenFields(api), overrides: ['model', 'channel'], shape: imagenBody };
}

export const IMAGEN_PREDICT: Readonly<Record<GoogleApi, ParameterMap>> = { gemini: imagenMap('gemini'), 'vertex-ai': imagenMap('vertex-ai') };
