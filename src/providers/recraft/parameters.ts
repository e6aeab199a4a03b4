/**
 * Recraft's `POST /v1/images/generations` as a parameter map (../parameter-map.ts). Recraft's API
 * is OpenAI-shaped (prompt, n, size, response_format) with fields of its own: model (its own
 * names), style and substyle (V2/V3 only), style_id, image_format, negative_prompt, controls,
 * text_layout, random_seed, block_nsfw (Recraft's API reference: Endpoints, "Generate image").
 *
 * What Recraft cannot do is refused, naming the field, never dropped: quality, background,
 * moderation, output_compression are refused by the catalogue already (a Recraft model's
 * capabilities have none of them); this table refuses them again for any model a recraft
 * channel is sent, and refuses what only the table can see: a style object (a relay extension),
 * watermark, metadata, and any passthrough field that is not one of Recraft's own.
 */
import { invalidRequest, type GatewayError } from '../../core/errors.js';
import { isRelayObject, type ImageJob, type OutputFormat } from '../../core/job.js';
import { channelModel, type DropRule, type MapContext, type ParameterMap, type ParamRule } from '../parameter-map.js';

/** Recraft's own generation fields a client may send as they are (unknown to the OpenAI dialect, so they arrive as passthrough). */
export const RECRAFT_PASSTHROUGH_FIELDS: readonly string[] = [
  'substyle',
  'style_id',
  'negative_prompt',
  'controls',
  'text_layout',
  'random_seed',
  'block_nsfw',
];

/** Passthrough fields another dialect gave a name of its own: the task API's nsfw_checker is Recraft's block_nsfw. */
const RENAMED_PASSTHROUGH: Readonly<Record<string, string>> = { nsfw_checker: 'block_nsfw' };

function unsupported(param: string, job: ImageJob, why = 'Recraft has no such parameter'): GatewayError {
  return invalidRequest(param, 'unsupported_parameter', `${param} is not supported for ${job.model.id} on a Recraft channel (${why}).`);
}

/** A field Recraft has no param for: any value is the client's 400 (routing skips recraft channels for it), and never sent. */
function refused<V>(param: string, why?: string): ParamRule<V> {
  return { to: param, transform: () => undefined, refuse: (_value, job) => unsupported(param, job, why) };
}

const drop = (why: string): DropRule => ({ drop: why });

/** The model's raster format as Recraft's image_format (png or webp); a vector model's SVG is its own, never asked for. */
function imageFormat(format: OutputFormat, { job }: MapContext): OutputFormat | undefined {
  return format !== 'svg' && job.model.capabilities.outputFormats.includes(format) ? format : undefined;
}

export const RECRAFT_GENERATIONS: ParameterMap = {
  encoding: 'json',
  fields: {
    id: drop("the gateway's own request id"),
    operation: drop('one endpoint: a Recraft model takes no input images (its capabilities have no edits), so every job is a generation'),
    model: { to: 'model', transform: channelModel },
    prompt: { to: 'prompt' },
    n: { to: 'n' },
    size: { to: 'size' },
    // Recraft has no quality; a Recraft model refuses the field (qualities: []), so the job's
    // value is only the column its price is under.
    quality: drop('Recraft has no quality: the catalogue refuses the field, the job carries only the price column'),
    // The gateway holds the bytes and answers in the client's form; a channel's params may ask for url instead.
    responseFormat: { to: 'response_format', transform: () => 'b64_json' },
    // Always sent for raster models, so the answer is the format the client is told; vector models answer SVG.
    outputFormat: { to: 'image_format', default: 'png', transform: imageFormat },
    outputCompression: refused('output_compression'),
    background: refused('background'),
    moderation: refused('moderation'),
    style: {
      to: 'style',
      refuse: (style, job) => (isRelayObject(style) ? unsupported('style', job, 'Recraft takes a style name, or a style_id') : undefined),
    },
    watermark: refused('watermark'),
    user: drop("an end-user id for OpenAI's abuse monitoring: Recraft has no such field, and leaving it out changes no image"),
    metadata: refused('metadata'),
    inputs: drop('none: a Recraft model takes no input images (capabilities.edits is null)'),
    stream: drop('Recraft answers whole images: a stream gets each as its completed event'),
    inputFidelity: drop('edits only'),
    passthrough: {
      spread: (passthrough) =>
        Object.entries(passthrough).flatMap(([name, value]) => {
          const to = RENAMED_PASSTHROUGH[name] ?? name;
          return RECRAFT_PASSTHROUGH_FIELDS.includes(to) && value !== null && value !== undefined ? [[to, value] as const] : [];
        }),
      refuse: (passthrough, job) => {
        const foreign = Object.keys(passthrough).find((name) => !RECRAFT_PASSTHROUGH_FIELDS.includes(RENAMED_PASSTHROUGH[name] ?? name));
        return foreign === undefined ? undefined : unsupported(foreign, job, `Recraft's own fields are ${RECRAFT_PASSTHROUGH_FIELDS.join(', ')}`);
      },
    },
  },
  // The model's fixed params and the channel's for the model: both in Recraft's dialect.
  overrides: ['model', 'channel'],
};
