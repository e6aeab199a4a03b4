/**
 * The OpenAI dialect's schemas: /v1/images/{generations,edits,variations}, /v1/models, new-api's
 * task query and the legacy billing dashboard. Errors are OpenAI's envelope.
 *
 * Image bodies: ajv checks each field's type (null is "not given", as OpenAI's spec has it, and
 * a wrong type is the same invalid_type naming the field that core/image-request.ts gives).
 * Values (a size, a quality, a prompt's length) depend on the model and are judged by
 * core/image-request.ts against the catalogue, with messages that say what the model takes; input
 * images have several forms and are judged by core/input-refs.ts: both are described only here.
 * Fields the gateway does not read pass through to OpenAI-style upstreams (additional properties).
 * Multipart forms are read as they stream (http/image-form.ts), after this: described only.
 */
import { Type, type TObject, type TOptional, type TProperties, type TString } from '@sinclair/typebox';
import { UsageTotalsView } from './admin.js';
import { describedOnly, errorResponses, IDEMPOTENCY_KEY_HEADER, nullable, NoQuery, OpenAIErrorEnvelope, optionalNullable, writtenAsIs } from './common.js';

// ---------------------------------------------------------------------------------------------
// Request bodies

export const ImageString = Type.String({ description: 'An http(s) URL, a data URI or bare base64.' });
const ImageRef = Type.Union(
  [ImageString, Type.Object({ image_url: Type.Optional(ImageString), file_id: Type.Optional(Type.String()) }, { additionalProperties: false })],
  {
    description: 'An image: {image_url} or {file_id} (OpenAI JSON edits), or the URL/data URI/base64 itself.',
  },
);
/** A relay gateway's own form of an option (an object), passed to relay channels as given. */
const RelayObject = Type.Record(Type.String(), Type.Unknown(), { description: "A relay gateway's own form, passed to relay channels as given." });

/** Fields every image endpoint reads. */
export const COMMON_FIELDS = {
  model: optionalNullable(Type.String({ description: 'A model of GET /v1/models (default gpt-image-2; dall-e-2 for variations).' })),
  n: optionalNullable(Type.Integer({ description: "Images to make: 1 to the model's most; 0 or null: 1." })),
  size: optionalNullable(Type.String({ description: 'auto, a size the model lists, or WIDTHxHEIGHT where the model takes custom sizes.' })),
  response_format: optionalNullable(Type.String({ description: 'url (default), b64_json, or base64 (b64_json).' })),
  output_format: optionalNullable(Type.String({ description: 'png, jpeg or webp (GPT image models).' })),
  output_compression: optionalNullable(Type.Number({ description: '0-100, with jpeg or webp (an integer).' })),
  background: optionalNullable(Type.Union([Type.String({ description: 'transparent, opaque or auto, as the model takes them.' }), RelayObject])),
  moderation: optionalNullable(Type.String({ description: 'low or auto (GPT image models).' })),
  user: optionalNullable(Type.String()),
  watermark: optionalNullable(Type.Boolean()),
  stream: optionalNullable(Type.Boolean({ description: 'Server-sent events: partial images, then one completed event per image.' })),
  partial_images: optionalNullable(Type.Number({ description: "0 to the model's most partial images per image (an integer), with stream." })),
  metadata: Type.Optional(Type.Unknown({ description: 'Passed to the upstream and back in the answer.' })),
};

/** Fields of the endpoints that take a prompt. */
export const PROMPT_FIELDS = {
  prompt: optionalNullable(Type.String({ description: "Required. At most the model's prompt length (32,000 characters for GPT image models)." })),
  quality: optionalNullable(Type.String({ description: 'As the model takes it: low, medium, high, auto (GPT image models); standard, hd (dall-e-3).' })),
  style: optionalNullable(Type.Union([Type.String({ description: 'vivid or natural (dall-e-3).' }), RelayObject])),
};

export const GenerationJson = Type.Object(
  {
    ...PROMPT_FIELDS,
    ...COMMON_FIELDS,
    image: Type.Optional(
      describedOnly(
        nullable(
          Type.Union([ImageString, Type.Array(ImageString)], { description: "Reference images (relay gateways' image-to-image): makes the request an edit." }),
        ),
      ),
    ),
  },
  { title: 'ImageGenerationRequest', description: 'Fields not listed here pass through to OpenAI-style upstreams (each at most 1 MB).' },
);

export const EditJson = Type.Object(
  {
    ...PROMPT_FIELDS,
    ...COMMON_FIELDS,
    image: Type.Optional(describedOnly(nullable(Type.Union([ImageString, Type.Array(ImageString)], { description: 'The image(s) to edit (or images).' })))),
    images: Type.Optional(describedOnly(nullable(Type.Array(ImageRef, { minItems: 1, description: "OpenAI's JSON edits: [{image_url} | {file_id}]." })))),
    mask: Type.Optional(describedOnly(nullable(ImageRef))),
    input_fidelity: optionalNullable(Type.String({ description: 'high or low (GPT image models).' })),
  },
  { title: 'ImageEditRequest', description: 'Fields not listed here pass through to OpenAI-style upstreams (each at most 1 MB).' },
);

export const VariationJson = Type.Object(
  {
    ...COMMON_FIELDS,
    image: Type.Optional(describedOnly(nullable(Type.Union([ImageString, Type.Array(ImageString)], { description: 'Required: the image to vary.' })))),
  },
  { title: 'ImageVariationRequest' },
);

/** A multipart form: the same fields as text, images as files (image, image[], mask) or text. */
function multipartForm<P extends TProperties>(title: string, fields: P) {
  const props = Object.fromEntries(Object.keys(fields).map((name) => [name, Type.Optional(Type.String())])) as { [K in keyof P]: TOptional<TString> };
  const file = Type.String({ format: 'binary', description: 'A file part, or a text part with a URL, data URI or base64.' });
  return describedOnly(
    Type.Object(
      { ...props, image: Type.Optional(Type.Union([file, Type.Array(file)])), 'image[]': Type.Optional(Type.Array(file)), mask: Type.Optional(file) },
      { title, description: 'Up to 16 images and a mask, as files or text parts; every other field as text (numbers and booleans as their text).' },
    ),
  );
}

const imageBody = <P extends TProperties>(json: TObject<P>, form: string) => ({
  content: {
    'application/json': { schema: json },
    'multipart/form-data': { schema: multipartForm(form, json.properties) },
  },
});

// ---------------------------------------------------------------------------------------------
// Answers

const tokenDetails = (description: string) => Type.Object({ text_tokens: Type.Integer(), image_tokens: Type.Integer() }, { description });

export const Usage = Type.Object(
  {
    total_tokens: Type.Integer(),
    input_tokens: Type.Integer(),
    output_tokens: Type.Integer(),
    input_tokens_details: Type.Optional(tokenDetails('When the upstream gave the breakdown (api.openai.com always does): it is never made up.')),
    output_tokens_details: Type.Optional(tokenDetails('As the upstream gave it.')),
    prompt_tokens: Type.Optional(Type.Integer({ description: "Relay gateways' chat-style name: input_tokens." })),
    completion_tokens: Type.Optional(Type.Integer({ description: "Relay gateways' chat-style name: output_tokens." })),
    prompt_tokens_details: Type.Optional(
      Type.Object(
        { text_tokens: Type.Optional(Type.Integer()), image_tokens: Type.Optional(Type.Integer()), cached_tokens: Type.Optional(Type.Integer()) },
        { description: "input_tokens_details with cached_tokens (the upstream's own when it gave one)." },
      ),
    ),
    completion_tokens_details: Type.Optional(
      Type.Object(
        { text_tokens: Type.Optional(Type.Integer()), image_tokens: Type.Optional(Type.Integer()) },
        { description: "output_tokens_details (the upstream's own when it gave one; else all output tokens are image tokens)." },
      ),
    ),
  },
  { title: 'ImageUsage', description: "The upstream's token usage in OpenAI's names, with the chat-style names relay gateways' clients read beside them." },
);

export const ImagesResponse = Type.Object(
  {
    created: Type.Integer({ description: 'Unix seconds.' }),
    data: Type.Array(
      Type.Object({
        b64_json: Type.Optional(Type.String({ description: 'response_format b64_json.' })),
        url: Type.Optional(Type.String({ description: 'response_format url: a signed link to the stored image.' })),
        revised_prompt: Type.Optional(Type.String()),
      }),
    ),
    background: Type.Optional(Type.String()),
    output_format: Type.Optional(Type.String()),
    size: Type.Optional(Type.String()),
    quality: Type.Optional(Type.String()),
    usage: Type.Optional(Usage),
    metadata: Type.Optional(Type.Unknown()),
  },
  { title: 'ImagesResponse' },
);

const NewApiSubmitted = Type.Object(
  {
    code: Type.Literal('success'),
    message: Type.Literal('success'),
    data: Type.Object({
      task_id: Type.String(),
      status: Type.String({ description: "submitted, or the task's status when an Idempotency-Key was replayed." }),
    }),
  },
  { title: 'NewApiTaskSubmitted', description: 'With X-New-Api-Async-Task: true: the task, to poll at GET /v1/images/tasks/{id}.' },
);

/** The fields every image event carries (http/image-stream.ts): the upstream's word, else the job's, else the model's defaults. */
const EVENT_FIELDS = {
  b64_json: Type.String(),
  created_at: Type.Integer({ description: 'Unix seconds.' }),
  size: Type.String({ description: 'The size asked (or auto), or what the upstream reported.' }),
  quality: Type.String(),
  background: Type.Optional(Type.String({ description: "Sent whenever known: always for the GPT image models (the model's default)." })),
  output_format: Type.Optional(Type.String({ description: "Sent whenever known: always for the GPT image models (the model's default)." })),
};

function partialImageEvent<T extends string>(type: T) {
  return Type.Object({ type: Type.Literal(type), ...EVENT_FIELDS, partial_image_index: Type.Integer({ description: '0-based.' }) }, { title: type });
}

function completedEvent<T extends string>(type: T) {
  return Type.Object(
    {
      type: Type.Literal(type),
      ...EVENT_FIELDS,
      url: Type.Optional(Type.String({ description: 'With response_format url: the stored image (b64_json is sent too, as OpenAI streams it).' })),
      revised_prompt: Type.Optional(Type.String()),
      usage: Type.Optional(Usage),
    },
    { title: type, description: 'One per image, after its partial images.' },
  );
}

/** A failure after the first event: the error envelope, as an `error` event. */
const ErrorEvent = Type.Composite([Type.Object({ type: Type.Literal('error') }), OpenAIErrorEnvelope], { title: 'error' });

export const ImageGenerationStreamEvent = Type.Union([partialImageEvent('image_generation.partial_image'), completedEvent('image_generation.completed')]);
export const ImageEditStreamEvent = Type.Union([partialImageEvent('image_edit.partial_image'), completedEvent('image_edit.completed')]);

/** stream: true. The data of each server-sent event (its `event:` line repeats `type`). */
function imageEvents(events: typeof ImageGenerationStreamEvent | typeof ImageEditStreamEvent) {
  const [partial, completed] = events.anyOf;
  return Type.Union([partial, completed, ErrorEvent], {
    description:
      'stream: true. Server-sent events, each `event: <type>` and `data: <one of these as JSON>`: the partial images as the upstream streams them (partial_images), then one completed event per image; a failure after the first event is an `error` event with the error envelope. Comment lines (`: keep-alive`) keep idle proxies from cutting a slow generation.',
  });
}

/**
 * The answers of an image endpoint. Written by the handler as bytes, never serialized: a b64_json
 * answer passes through as it arrives (http/images-response.ts), a stream is server-sent events.
 */
function imageResponses(withTasks: boolean, events: typeof ImageGenerationStreamEvent | typeof ImageEditStreamEvent) {
  return {
    200: {
      description: 'The images (or, with X-New-Api-Async-Task, the task accepted).',
      content: {
        'application/json': { schema: writtenAsIs(withTasks ? Type.Union([ImagesResponse, NewApiSubmitted]) : ImagesResponse) },
        'text/event-stream': { schema: writtenAsIs(imageEvents(events)) },
      },
    },
    ...errorResponses('openai', 'client', [402, 404, 409, 429, 502, 503, 504]),
  };
}

/** new-api's async mode, on generations and edits. */
const AsyncTaskHeaders = Type.Object({
  'x-new-api-async-task': Type.Optional(describedOnly(Type.String({ description: 'true or 1: answer at once with a task (new-api async mode).' }))),
  ...IDEMPOTENCY_KEY_HEADER,
});

export const ImageSchemas = {
  generations: {
    headers: AsyncTaskHeaders,
    querystring: NoQuery,
    body: imageBody(GenerationJson, 'ImageGenerationForm'),
    response: imageResponses(true, ImageGenerationStreamEvent),
  },
  edits: { headers: AsyncTaskHeaders, querystring: NoQuery, body: imageBody(EditJson, 'ImageEditForm'), response: imageResponses(true, ImageEditStreamEvent) },
  variations: { querystring: NoQuery, body: imageBody(VariationJson, 'ImageVariationForm'), response: imageResponses(false, ImageGenerationStreamEvent) },
};

// ---------------------------------------------------------------------------------------------
// Models

const Model = Type.Object(
  {
    id: Type.String(),
    object: Type.Literal('model'),
    created: Type.Integer(),
    owned_by: Type.String(),
    description: Type.String(),
  },
  { title: 'Model', description: 'A model of the catalogue (more fields may follow: what the model takes).' },
);

const InputRules = Type.Union([
  Type.Literal(false),
  Type.Object({
    max_images: Type.Integer(),
    max_bytes: Type.Integer({ description: 'Per image.' }),
    formats: Type.Array(Type.String()),
    max_side: nullable(Type.Integer()),
    max_pixels: nullable(Type.Integer()),
    square: Type.Boolean(),
  }),
]);

/** What the model takes (core/models.ts describeCapabilities): the rules the request parser applies. */
const Capabilities = Type.Object(
  {
    family: Type.String(),
    sizes: Type.Array(Type.String()),
    custom_sizes: Type.Union([
      Type.Literal(false),
      Type.Object({
        edge_multiple: Type.Integer(),
        max_edge: Type.Integer(),
        max_aspect: Type.Number(),
        min_pixels: Type.Integer(),
        max_pixels: Type.Integer(),
      }),
    ]),
    default_size: Type.String(),
    qualities: Type.Array(Type.String()),
    default_quality: Type.String(),
    max_n: Type.Integer(),
    max_prompt_chars: Type.Integer(),
    output_formats: Type.Array(Type.String()),
    default_output_format: nullable(Type.String()),
    output_compression: Type.Boolean(),
    backgrounds: Type.Array(Type.String()),
    moderations: Type.Array(Type.String()),
    styles: nullable(Type.Array(Type.String())),
    streaming: Type.Union([Type.Literal(false), Type.Object({ max_partial_images: Type.Integer() })]),
    edits: InputRules,
    input_fidelity: Type.Boolean(),
    variations: InputRules,
    price_units: Type.Unknown({ description: 'What the model is priced by.' }),
  },
  { title: 'ModelCapabilities', description: 'An extension field: what the model takes.' },
);

export const ModelSchemas = {
  list: {
    querystring: NoQuery,
    response: { 200: Type.Object({ object: Type.Literal('list'), data: Type.Array(Model) }, { title: 'ModelList' }), ...errorResponses('openai', 'client') },
  },
  get: {
    params: Type.Object({ model: Type.String({ description: 'A model id.' }) }),
    querystring: NoQuery,
    response: {
      200: Type.Composite([Model, Type.Object({ capabilities: Type.Unsafe<Record<string, unknown>>(Capabilities) })], { title: 'ModelDetail' }),
      ...errorResponses('openai', 'client', [404]),
    },
  },
};

// ---------------------------------------------------------------------------------------------
// new-api's task query

const NewApiTaskView = Type.Object(
  {
    task_id: Type.String(),
    status: Type.String({ description: 'queued, in_progress, succeeded or failed.' }),
    status_raw: Type.String({ description: 'QUEUED, IN_PROGRESS, SUCCESS or FAILURE.' }),
    action: Type.String({ description: 'generations or edits.' }),
    progress: Type.String({ description: '0% to 100%.' }),
    submit_time: Type.Integer({ description: 'Unix seconds; 0 when unknown.' }),
    start_time: Type.Integer(),
    finish_time: Type.Integer(),
    result_url: Type.String({ description: 'The first image, or empty.' }),
    image_urls: Type.Array(Type.String()),
    fail_reason: Type.String(),
    data: Type.Optional(Type.Array(Type.Object({ url: Type.String() }))),
  },
  { title: 'NewApiTask' },
);

export const NewApiTaskSchema = {
  params: Type.Object({ id: Type.String({ description: 'The task id.' }) }),
  querystring: NoQuery,
  response: {
    200: Type.Object({ code: Type.Literal('success'), message: Type.Literal('success'), data: NewApiTaskView }),
    ...errorResponses('openai', 'task-owner'),
    // new-api's own answer for a task it does not know (or that is another key's): its clients parse this.
    404: Type.Object(
      { code: Type.Literal('task_not_exist'), message: Type.Literal('task_not_exist'), data: Type.Null() },
      { description: 'No such task for this key.' },
    ),
  },
};

// ---------------------------------------------------------------------------------------------
// The legacy billing dashboard

export const BillingSubscriptionSchema = {
  querystring: NoQuery,
  response: {
    200: Type.Object(
      {
        object: Type.Literal('billing_subscription'),
        has_payment_method: Type.Boolean(),
        hard_limit_usd: Type.Number({ description: 'Balance plus spend; 100,000,000 for a key without a credit limit.' }),
        soft_limit_usd: Type.Number(),
        system_hard_limit_usd: Type.Number(),
        access_until: Type.Integer({ description: 'Unix seconds the key expires; 0: never.' }),
        balance_usd: nullable(Type.Number({ description: 'null: unlimited.' })),
      },
      { title: 'BillingSubscription' },
    ),
    ...errorResponses('openai', 'client'),
  },
};

const DATE_PARAM = 'A date (YYYY-MM-DD or ISO 8601) or epoch milliseconds.';

export const BillingUsageSchema = {
  querystring: Type.Object({
    start_date: Type.Optional(Type.String({ description: `From (inclusive). ${DATE_PARAM}` })),
    end_date: Type.Optional(Type.String({ description: `To (exclusive). ${DATE_PARAM}` })),
  }),
  response: {
    200: Type.Object(
      {
        object: Type.Literal('list'),
        total_usage: Type.Number({ description: 'US cents.' }),
        daily_costs: Type.Array(
          Type.Object({
            timestamp: Type.Number({ description: 'Unix seconds.' }),
            line_items: Type.Array(Type.Object({ name: Type.String(), cost: Type.Number({ description: 'US cents.' }) })),
          }),
        ),
        totals: UsageTotalsView,
      },
      { title: 'BillingUsage' },
    ),
    ...errorResponses('openai', 'client'),
  },
};
