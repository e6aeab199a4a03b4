/**
 * Parameter maps: how an ImageJob becomes what an upstream endpoint takes, declared as one typed
 * table per endpoint (Portkey's ProviderConfig, without its `any`s) and applied by this generic
 * engine. A table names, for every ImageJob field, the upstream param it goes to (with a
 * transform, a condition, a default), several params or file parts at once (a spread), or why it
 * is not sent (a drop); whose params are laid over the result (the model's fixed params, the
 * channel's); what the upstream refuses (as the client's 400); and how the body is encoded.
 * Each vendor's tables live in its provider folder; nothing here knows a vendor.
 */
import { randomBytes } from 'node:crypto';
import { upstreamModelFor, type Channel } from '../core/channel.js';
import type { GatewayError } from '../core/errors.js';
import type { InputFormat, InputImage } from '../core/image-input.js';
import type { ImageJob } from '../core/job.js';
import type { ModelSpec } from '../core/models.js';
import { encodeMultipart, formText, type FilePart } from './multipart-body.js';
import { StreamedBody, type BodySegment } from './upstream-body.js';

/** What a rule may look at besides the field itself. */
export interface MapContext {
  readonly job: ImageJob;
  readonly channel: Channel;
  /** The caller reads the answer as server-sent events (only stream callers set it). */
  readonly stream: boolean;
}

/** Every ImageJob field as a rule sees it: set (an unset field never reaches a rule; its default may). */
export type JobFields = Required<ImageJob>;

/** One field -> one param. */
export interface ParamRule<V> {
  /** The upstream param's name. */
  readonly to: string;
  /** The value sent; default: the field's own. Returning undefined sends nothing. */
  readonly transform?: (value: V, ctx: MapContext) => unknown;
  /** Used (and transformed) when the job leaves the field unset. */
  readonly default?: V;
  /** Sent only when this holds (e.g. api.openai.com takes response_format for dall-e models only). */
  readonly when?: (job: ImageJob) => boolean;
  /** Written after the overrides, so neither the model's nor the channel's params change it. */
  readonly final?: boolean;
  /** A value the upstream would refuse, as the client's 400 (routing skips the channel for it). */
  readonly refuse?: (value: V, job: ImageJob) => GatewayError | undefined;
}

/** An input image sent as a multipart file part: `<stem>.<ext>` with its media type. */
export interface FileParam {
  /** The form field's name (`image`, `image[]`, `mask`). */
  readonly file: string;
  readonly image: InputImage;
  readonly stem: string;
}

/** What a spread writes: a param (name, value) or a file part. */
export type Param = readonly [name: string, value: unknown] | FileParam;

/** One field -> any number of params or file parts (inputs -> image[] and mask; stream -> stream, partial_images). */
export interface SpreadRule<V> {
  readonly spread: (value: V, ctx: MapContext) => readonly Param[];
  readonly when?: (job: ImageJob) => boolean;
  readonly final?: boolean;
  /** A value the upstream would refuse (a passthrough field it has no such param for), as the client's 400. */
  readonly refuse?: (value: V, job: ImageJob) => GatewayError | undefined;
}

/** Not sent; the text says why (read by whoever adds a vendor or a field). */
export interface DropRule {
  readonly drop: string;
}

export type FieldRule<V> = ParamRule<V> | SpreadRule<V> | DropRule;

/**
 * A rule for every ImageJob field (a new field does not compile until each table says where it
 * goes), in the order their params are written: JSON keys and form fields keep the table's order.
 */
export type FieldRules = { readonly [K in keyof JobFields]: FieldRule<JobFields[K]> };

/** Params laid over the mapped fields, in the order listed: the model's fixed params, the channel's for the model. */
export type ParamOverride = 'model' | 'channel';

export interface ParameterMap {
  /** JSON (an input image inside it goes as a streamed data URI), or multipart (file parts first, then text fields). */
  readonly encoding: 'json' | 'multipart';
  readonly fields: FieldRules;
  readonly overrides: readonly ParamOverride[];
  /** Params this endpoint never carries, whoever set them (an override included): removed last. */
  readonly neverSent?: readonly string[];
  /**
   * JSON bodies whose fields nest (Google's `generationConfig.imageConfig`, `instances`/`parameters`):
   * the finished params (overrides laid) become the body's object. Unset: the params are the body.
   */
  readonly shape?: (params: Readonly<Record<string, unknown>>, ctx: MapContext) => Record<string, unknown>;
}

/** The params and file parts a table made of a job. */
export interface MappedParams {
  /** In the order written. */
  readonly params: Readonly<Record<string, unknown>>;
  readonly files: readonly FileParam[];
}

/** The body a table's encoding makes of a job. */
export interface EncodedParams {
  readonly contentType: string;
  /** JSON text; a streamed body when it carries input images (multipart, data URIs). */
  readonly body: string | StreamedBody;
}

export function mapParameters(map: ParameterMap, ctx: MapContext): MappedParams {
  // A Map, so a `__proto__` key (passed through as given) stays data; made an object at the end.
  const params = new Map<string, unknown>();
  const files: FileParam[] = [];
  const write = (final: boolean) => {
    for (const key of fieldKeys(map)) writeField(key, map.fields, final, ctx, params, files);
  };
  write(false);
  for (const override of map.overrides) {
    const laid = override === 'model' ? ctx.job.model.fixedParams : ctx.channel.modelMap[ctx.job.model.id]?.params;
    for (const [name, value] of Object.entries(laid ?? {})) params.set(name, value);
  }
  write(true);
  for (const name of map.neverSent ?? []) params.delete(name);
  return { params: Object.fromEntries(params), files };
}

/**
 * Passthrough fields the gateway itself honours on every channel: an upstream with no such param
 * does not refuse them (a table's spread still sends them where the vendor has one: the task API's
 * nsfw_checker, Recraft's block_nsfw). nsfw_checker: the gateway's content check (output/content-safety.ts).
 */
const GATEWAY_PASSTHROUGH_FIELDS: ReadonlySet<string> = new Set(['nsfw_checker']);

/** The first field (in the table's order) whose value the upstream would refuse. */
export function refusalOf(map: ParameterMap, job: ImageJob): GatewayError | undefined {
  const passthrough = Object.fromEntries(Object.entries(job.passthrough).filter(([name]) => !GATEWAY_PASSTHROUGH_FIELDS.has(name)));
  const judged: ImageJob = { ...job, passthrough };
  for (const key of fieldKeys(map)) {
    const refusal = fieldRefusal(key, map.fields, judged);
    if (refusal) return refusal;
  }
  return undefined;
}

export function encodeParameters(map: ParameterMap, ctx: MapContext): EncodedParams {
  const mapped = mapParameters(map, ctx);
  if (map.encoding === 'multipart') return multipartForm(mapped);
  if (mapped.files.length > 0) throw new Error('a JSON body carries no file parts: its input images go as dataUri values');
  return { contentType: 'application/json', body: jsonBody(map.shape ? map.shape(mapped.params, ctx) : mapped.params) };
}

/** The model name the channel's upstream knows (its mapping's, else the catalogue's). */
export function channelModel(spec: ModelSpec, { channel }: MapContext): string {
  return upstreamModelFor(channel, spec.id, spec.upstreamModel);
}

/** The params of a job's passthrough (fields imagegate does not read), except those named. */
export function passthroughExcept(excluded: ReadonlySet<string>): SpreadRule<Readonly<Record<string, unknown>>> {
  return { spread: (passthrough) => Object.entries(passthrough).filter(([name]) => !excluded.has(name)) };
}

export function fileParam(file: string, image: InputImage, stem: string): FileParam {
  return { file, image, stem };
}

/** An input image inside a JSON body: sent as a data URI (or bare base64) whose base64 is streamed from its bytes. */
export class EmbeddedImage {
  constructor(
    readonly image: InputImage,
    /** bare: the base64 alone, as Google's inlineData.data takes it (its mimeType beside it). */
    readonly form: 'data-uri' | 'bare' = 'data-uri',
  ) {}
}

export function dataUri(image: InputImage): EmbeddedImage {
  return new EmbeddedImage(image);
}

export function bareBase64(image: InputImage): EmbeddedImage {
  return new EmbeddedImage(image, 'bare');
}

/** An input image's media type (image/png, image/jpeg, image/webp). */
export function inputMime(image: InputImage): string {
  return INPUT_MIME[image.format];
}

// ---------------------------------------------------------------------------

/** The table's field names in its order (every ImageJob field, FieldRules says). */
function fieldKeys(map: ParameterMap): (keyof ImageJob)[] {
  return Object.keys(map.fields) as (keyof ImageJob)[];
}

/** Generic in the field, so that its rule and its value have one type. */
function writeField<K extends keyof ImageJob>(
  key: K,
  fields: FieldRules,
  final: boolean,
  ctx: MapContext,
  params: Map<string, unknown>,
  files: FileParam[],
): void {
  const rule: FieldRule<JobFields[K]> = fields[key];
  if ('drop' in rule || (rule.final ?? false) !== final) return;
  if (rule.when && !rule.when(ctx.job)) return;
  const job: Partial<JobFields> = ctx.job;
  const given: JobFields[K] | undefined = job[key];
  // Only undefined is unset: a null the client sent is sent as it is.
  const value = given !== undefined ? given : 'to' in rule ? rule.default : undefined;
  if (value === undefined) return;
  if ('spread' in rule) {
    for (const param of rule.spread(value, ctx)) {
      if ('file' in param) files.push(param);
      else params.set(param[0], param[1]);
    }
    return;
  }
  const sent = rule.transform ? rule.transform(value, ctx) : value;
  if (sent !== undefined) params.set(rule.to, sent);
}

function fieldRefusal<K extends keyof ImageJob>(key: K, fields: FieldRules, job: ImageJob): GatewayError | undefined {
  const rule: FieldRule<JobFields[K]> = fields[key];
  if (!('refuse' in rule) || !rule.refuse || (rule.when && !rule.when(job))) return undefined;
  const set: Partial<JobFields> = job;
  const value: JobFields[K] | undefined = set[key];
  return value === undefined ? undefined : rule.refuse(value, job);
}

const INPUT_MIME: Readonly<Record<InputFormat, string>> = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp' };

/** File parts first, then the params as text fields (numbers and objects as JSON; null and undefined left out). */
function multipartForm({ params, files }: MappedParams): EncodedParams {
  const text = Object.entries(params)
    .filter(([, value]) => value !== undefined && value !== null)
    .map(([name, value]) => [name, formText(value)] as const);
  const form = encodeMultipart([...files.map((f) => [f.file, filePart(f)] as const), ...text]);
  return { contentType: form.contentType, body: form.body };
}

function filePart({ image, stem }: FileParam): FilePart {
  return { bytes: image.bytes, filename: `${stem}.${image.format === 'jpeg' ? 'jpg' : image.format}`, contentType: INPUT_MIME[image.format] };
}

/**
 * The params as JSON text; with embedded images, a streamed body: each image's base64 is written
 * into its data URI from its bytes as the body is sent (an upload may be waiting in its spool file).
 */
function jsonBody(params: Readonly<Record<string, unknown>>): string | StreamedBody {
  const images: EmbeddedImage[] = [];
  let marker = '';
  const json = JSON.stringify(params, (_key, value: unknown) => {
    if (!(value instanceof EmbeddedImage)) return value;
    // Stands in for each image while the rest is written as JSON; random, so no prompt can hold it.
    marker ||= `imagegate-image-${randomBytes(12).toString('hex')}-`;
    return `${marker}${images.push(value) - 1}`;
  });
  if (images.length === 0) return json;
  const pieces = json.split(new RegExp(`${marker}(\\d+)`));
  const segments: BodySegment[] = [];
  for (let i = 0; i < pieces.length; i += 2) {
    const embedded = i + 1 < pieces.length ? images[Number(pieces[i + 1])] : undefined;
    const prefix = embedded?.form === 'data-uri' ? `data:${INPUT_MIME[embedded.image.format]};base64,` : '';
    segments.push(Buffer.from(`${pieces[i] ?? ''}${prefix}`, 'utf8'));
    if (embedded) segments.push({ input: embedded.image.bytes, encoding: 'base64' });
  }
  return new StreamedBody(segments);
}
