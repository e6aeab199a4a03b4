/**
 * The admin API's schemas (/admin/api/...): channels, keys and their ledger, tasks, usage, the
 * gateway's webhook secret. Errors are OpenAI's envelope. Bodies are checked for their types
 * where the hand parser (billing/key-settings.ts, routing/channel-definition.ts) gives the same
 * invalid_type; where it answers a wrong type as invalid_value, the field is described only.
 */
import { Type, type Static } from '@sinclair/typebox';
import { USAGE_DIMENSIONS } from '../../billing/usage-report.js';
import { CHANNEL_KINDS, REFERENCE_IMAGE_MODES } from '../../core/channel.js';
import { SAFETY_CLASSES } from '../../core/image-safety.js';
import { MAX_BLOCKED_TERMS, MAX_TERM_LENGTH, SAFETY_MODES } from '../../core/safety-policy.js';
import { adminListQuery, HAS_MORE, MAX_LIST_LIMIT, KEY_FILTER, MODEL_FILTER, MORE_AFTER, rowListQuery, stringEnum, TIME_RANGE_QUERY } from '../admin-list.js';
import { describedOnly, errorResponses, IdParams, NoBody, NoContent, NoQuery, nullable, NullableTimestamp, Timestamp, writtenAsIs } from './common.js';

const errors = (...statuses: Parameters<typeof errorResponses>[2] & object) => errorResponses('openai', 'admin', statuses);

// ---------------------------------------------------------------------------------------------
// Content-safety policy (a key's, a channel's): read by core/safety-policy.ts, which names the field at fault.

const SafetyThresholdsSchema = Type.Record(stringEnum(SAFETY_CLASSES), nullable(Type.Number({ minimum: 0, maximum: 1 })), {
  description: 'A class trips at or above its score; laid over the defaults (porn 0.7, hentai 0.7, sexy 0.9); null: the class never trips.',
});

const SafetyPolicyBody = describedOnly(
  nullable(
    Type.Object(
      {
        mode: stringEnum(SAFETY_MODES, {
          description: 'off: nothing checked; flag: delivered, kept for review; block: refused (400 content_policy_violation).',
        }),
        thresholds: Type.Optional(nullable(SafetyThresholdsSchema)),
        blocklist: Type.Optional(
          nullable(
            Type.Array(Type.String({ minLength: 1, maxLength: MAX_TERM_LENGTH }), {
              maxItems: MAX_BLOCKED_TERMS,
              description: 'Prompt terms refused before any credit or upstream call: words (whole, case-insensitive) or /regular expressions/.',
            }),
          ),
        ),
      },
      {
        title: 'SafetyPolicy',
        additionalProperties: false,
        description: 'Content-safety policy; null: none of its own (a key: the operator default, IMAGEGATE_SAFETY_*).',
      },
    ),
  ),
);

const SafetyPolicyView = nullable(
  Type.Object({
    mode: stringEnum(SAFETY_MODES),
    thresholds: Type.Record(Type.String(), Type.Number()),
    blocklist: Type.Array(Type.String()),
  }),
);

// ---------------------------------------------------------------------------------------------
// Channels

const ChannelView = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    kind: stringEnum(CHANNEL_KINDS),
    base_url: Type.String(),
    status: stringEnum(['active', 'disabled', 'auto_disabled'] as const),
    disabled_reason: nullable(Type.String({ description: 'Why the gateway disabled the channel itself.' })),
    api_keys: Type.Array(
      Type.Object({
        key: Type.String({ description: 'Masked.' }),
        fingerprint: Type.String(),
        disabled_reason: nullable(Type.String({ description: 'Why the gateway stopped using this key.' })),
      }),
    ),
    models: Type.Union([Type.Literal('*'), Type.Array(Type.String())]),
    model_map: Type.Record(Type.String(), Type.Object({ upstream_model: nullable(Type.String()), params: Type.Record(Type.String(), Type.Unknown()) })),
    priority: Type.Integer(),
    weight: Type.Number(),
    max_concurrent: Type.Integer({ description: '0: no limit.' }),
    timeout: Type.Number({ description: 'Seconds.' }),
    headers: Type.Record(Type.String(), Type.String(), { description: 'Secret-looking values masked.' }),
    enabled: Type.Boolean(),
    api_version: nullable(Type.String()),
    poll_interval: nullable(Type.Number({ description: 'Seconds.' })),
    safety: SafetyPolicyView,
    source: stringEnum(['config', 'admin'] as const),
    health: Type.Object(
      {
        circuit: stringEnum(['closed', 'open', 'half-open'] as const, {
          description:
            "The channel's breaker: closed (in use), open (skipped after consecutive failures, until unavailable_until), half-open (its cooldown is over: the next request probes it). Shared by every instance with REDIS_URL.",
        }),
        consecutive_failures: Type.Integer({ description: 'Failures since its last success.' }),
        unavailable_until: nullable(
          Type.String({
            format: 'date-time',
            description: "Until when requests skip it (open breaker, or an upstream's Retry-After); null when it takes requests.",
          }),
        ),
        last_error: nullable(Type.String({ description: 'The last failure that counted against it.' })),
        in_flight: Type.Integer({
          description: 'Requests this instance has on the channel now (compare max_concurrent; with several instances, each counts its own).',
        }),
      },
      { description: 'Live health, read when the answer is made: cheap enough to poll with the channel list.' },
    ),
    last_test: nullable(
      Type.Object(
        {
          ok: Type.Boolean(),
          model: Type.String(),
          latency_ms: Type.Number({ description: 'How long the test generation took.' }),
          error: nullable(Type.String()),
          tested_at: NullableTimestamp,
        },
        { description: 'The last POST /admin/api/channels/{id}/test on this instance (null: none since it started).' },
      ),
    ),
    created_at: NullableTimestamp,
    updated_at: NullableTimestamp,
  },
  { title: 'Channel' },
);
export type ChannelView = Static<typeof ChannelView>;

/** A channel as operators write it; the whole of it is checked by routing/channel-definition.ts. */
const ChannelDefinitionFields = {
  name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' }),
  kind: stringEnum(CHANNEL_KINDS),
  base_url: Type.Optional(Type.String({ description: 'http(s); a demo channel needs none.' })),
  api_key: Type.Optional(Type.String()),
  api_keys: Type.Optional(Type.Array(Type.String())),
  models: Type.Optional(Type.Union([Type.Literal('*'), Type.Array(Type.String())], { description: "'*' (default) or the model names served." })),
  model_map: Type.Optional(
    nullable(
      Type.Record(
        Type.String(),
        Type.Union([
          Type.String(),
          Type.Object({ upstream_model: Type.Optional(Type.String()), params: Type.Optional(Type.Record(Type.String(), Type.Unknown())) }),
        ]),
      ),
    ),
  ),
  priority: Type.Optional(nullable(Type.Integer({ minimum: -1_000_000, maximum: 1_000_000 }))),
  weight: Type.Optional(nullable(Type.Number({ minimum: 0, maximum: 1_000_000 }))),
  max_concurrent: Type.Optional(nullable(Type.Integer({ minimum: 0, maximum: 1_000_000 }))),
  timeout: Type.Optional(nullable(Type.Number({ minimum: 1, maximum: 86_400, description: 'Seconds.' }))),
  headers: Type.Optional(nullable(Type.Record(Type.String(), Type.String()))),
  enabled: Type.Optional(nullable(Type.Boolean())),
  api_version: Type.Optional(nullable(Type.String())),
  poll_interval: Type.Optional(nullable(Type.Number({ minimum: 0.01, maximum: 3600, description: 'Seconds.' }))),
  reference_images: Type.Optional(nullable(stringEnum(REFERENCE_IMAGE_MODES))),
  watermark: Type.Optional(
    nullable(Type.Boolean({ description: "ark, byteplus: ask for the vendor's visible watermark when the client does not say (default false)." })),
  ),
  cost_ratio: Type.Optional(nullable(Type.Number({ minimum: 0, maximum: 1000 }))),
  safety: Type.Optional(SafetyPolicyBody),
};

// Every refusal of a channel definition is invalid_value naming the field, as the YAML file's are.
const ChannelCreateBody = describedOnly(Type.Object(ChannelDefinitionFields, { title: 'ChannelDefinition' }));
const ChannelPatchBody = describedOnly(Type.Partial(Type.Object(ChannelDefinitionFields), { title: 'ChannelPatch' }));

export const ChannelSchemas = {
  list: {
    querystring: adminListQuery({}, MAX_LIST_LIMIT),
    response: { 200: Type.Object({ object: Type.Literal('list'), data: Type.Array(ChannelView), ...HAS_MORE }), ...errors() },
  },
  create: { querystring: NoQuery, body: ChannelCreateBody, response: { 201: ChannelView, ...errors(409) } },
  get: { params: IdParams, querystring: NoQuery, response: { 200: ChannelView, ...errors(404) } },
  patch: { params: IdParams, querystring: NoQuery, body: ChannelPatchBody, response: { 200: ChannelView, ...errors(404, 409) } },
  delete: { params: IdParams, querystring: NoQuery, response: { 204: NoContent, ...errors(404) } },
  test: {
    params: IdParams,
    querystring: NoQuery,
    body: NoBody,
    response: {
      200: Type.Object(
        {
          ok: Type.Boolean(),
          model: Type.String(),
          latency_ms: Type.Number({ description: 'How long the generation took, ms.' }),
          error: Type.Optional(Type.String()),
        },
        { description: 'One small generation through the channel.' },
      ),
      ...errors(404),
    },
  },
};

// ---------------------------------------------------------------------------------------------
// Keys

const KeyView = Type.Object(
  {
    id: Type.String(),
    object: Type.Literal('api_key'),
    name: Type.String(),
    prefix: Type.String(),
    owner: nullable(Type.String()),
    credits: nullable(Type.Number({ description: 'USD; null: unlimited.' })),
    balance_micros: nullable(Type.Integer()),
    enabled: Type.Boolean(),
    expires_at: NullableTimestamp,
    allowed_models: nullable(Type.Array(Type.String())),
    allowed_ips: nullable(Type.Array(Type.String())),
    rpm: nullable(Type.Integer()),
    max_concurrent: nullable(Type.Integer()),
    safety: SafetyPolicyView,
    created_at: Timestamp,
    revoked_at: NullableTimestamp,
  },
  { title: 'ApiKey' },
);
export type KeyView = Static<typeof KeyView>;

const KeySettingsFields = {
  // Wrong types of these are invalid_value (billing/key-settings.ts): described, checked there.
  name: describedOnly(Type.String({ minLength: 1, maxLength: 100 })),
  owner: describedOnly(nullable(Type.String({ minLength: 1, maxLength: 200 }))),
  expires_at: describedOnly(nullable(Type.Union([Type.String({ description: 'ISO 8601' }), Type.Number({ description: 'epoch ms' })]))),
  rpm: describedOnly(nullable(Type.Integer({ minimum: 1, maximum: 1_000_000 }))),
  max_concurrent: describedOnly(nullable(Type.Integer({ minimum: 1, maximum: 1_000_000 }))),
  // These answer a wrong type with invalid_type, as ajv does.
  allowed_models: nullable(Type.Array(Type.String(), { description: 'null: every model.' })),
  allowed_ips: nullable(Type.Array(Type.String(), { description: 'Addresses or CIDRs; null: any address.' })),
  enabled: Type.Boolean(),
  safety: SafetyPolicyBody,
};

const KeyCreateBody = Type.Object(
  {
    name: KeySettingsFields.name,
    owner: Type.Optional(KeySettingsFields.owner),
    credits: Type.Optional(describedOnly(nullable(Type.Number({ minimum: 0, description: 'Initial credits in USD; null or absent: unlimited.' })))),
    expires_at: Type.Optional(KeySettingsFields.expires_at),
    allowed_models: Type.Optional(KeySettingsFields.allowed_models),
    allowed_ips: Type.Optional(KeySettingsFields.allowed_ips),
    rpm: Type.Optional(KeySettingsFields.rpm),
    max_concurrent: Type.Optional(KeySettingsFields.max_concurrent),
    enabled: Type.Optional(KeySettingsFields.enabled),
    safety: Type.Optional(KeySettingsFields.safety),
  },
  { title: 'ApiKeyCreate', additionalProperties: false },
);

const KeyPatchBody = Type.Object(
  {
    name: Type.Optional(KeySettingsFields.name),
    owner: Type.Optional(KeySettingsFields.owner),
    credits: Type.Optional(describedOnly(Type.Never({ description: 'Not here: POST /admin/api/keys/{id}/credits, so the ledger records it.' }))),
    expires_at: Type.Optional(KeySettingsFields.expires_at),
    allowed_models: Type.Optional(KeySettingsFields.allowed_models),
    allowed_ips: Type.Optional(KeySettingsFields.allowed_ips),
    rpm: Type.Optional(KeySettingsFields.rpm),
    max_concurrent: Type.Optional(KeySettingsFields.max_concurrent),
    enabled: Type.Optional(KeySettingsFields.enabled),
    safety: Type.Optional(KeySettingsFields.safety),
  },
  { title: 'ApiKeyPatch', additionalProperties: false },
);

const LedgerEntry = Type.Object(
  {
    id: Type.String(),
    kind: stringEnum(['grant', 'reserve', 'release', 'refund'] as const),
    amount: Type.Number({ description: 'USD, signed.' }),
    amount_micros: Type.Integer(),
    request_id: nullable(Type.String()),
    note: nullable(Type.String()),
    created_at: Timestamp,
  },
  { title: 'LedgerEntry' },
);
export type LedgerEntry = Static<typeof LedgerEntry>;

const WebhookSecret = Type.Object({
  id: Type.String(),
  webhook_secret: nullable(Type.String({ description: 'Standard Webhooks secret (whsec_...); null if the key went away meanwhile.' })),
});

export const KeySchemas = {
  list: {
    querystring: adminListQuery({}, MAX_LIST_LIMIT),
    response: { 200: Type.Object({ object: Type.Literal('list'), data: Type.Array(KeyView), ...HAS_MORE }), ...errors() },
  },
  create: {
    querystring: NoQuery,
    body: KeyCreateBody,
    response: { 201: Type.Composite([KeyView, Type.Object({ key: Type.String({ description: 'The secret, shown this once.' }) })]), ...errors() },
  },
  get: { params: IdParams, querystring: NoQuery, response: { 200: KeyView, ...errors(404) } },
  patch: { params: IdParams, querystring: NoQuery, body: KeyPatchBody, response: { 200: KeyView, ...errors(404) } },
  delete: { params: IdParams, querystring: NoQuery, response: { 204: NoContent, ...errors(404) } },
  credits: {
    params: IdParams,
    querystring: NoQuery,
    body: Type.Object({
      // A wrong type is invalid_value naming amount (billing/key-settings.ts usdToMicros).
      amount: describedOnly(Type.Number({ description: 'USD to add (negative to take away); not 0.' })),
      note: Type.Optional(describedOnly(Type.String({ description: 'Kept in the ledger (first 500 characters); not a string: no note.' }))),
    }),
    response: {
      200: Type.Object({
        id: Type.String(),
        balance_micros: nullable(Type.Integer()),
        credits: nullable(Type.Number({ description: 'USD; null: unlimited.' })),
      }),
      ...errors(404),
    },
  },
  webhookSecret: { params: IdParams, querystring: NoQuery, response: { 200: WebhookSecret, ...errors(404) } },
  rotateWebhookSecret: { params: IdParams, querystring: NoQuery, body: NoBody, response: { 200: WebhookSecret, ...errors(404) } },
  ledger: {
    params: IdParams,
    querystring: adminListQuery({}, MAX_LIST_LIMIT),
    response: { 200: Type.Object({ object: Type.Literal('list'), data: Type.Array(LedgerEntry), ...HAS_MORE }), ...errors(404) },
  },
};

// ---------------------------------------------------------------------------------------------
// Tasks

export const TASK_STATES = ['queued', 'running', 'succeeded', 'failed'] as const;

const TaskViewFields = {
  id: Type.String(),
  object: Type.Literal('task'),
  dialect: stringEnum(['newapi', 'task_api'] as const),
  action: stringEnum(['generations', 'edits'] as const),
  key_id: nullable(Type.String()),
  model: Type.String(),
  state: stringEnum(TASK_STATES),
  attempts: Type.Integer(),
  upstream_task_id: nullable(Type.String()),
  image_urls: Type.Array(Type.String({ description: 'Signed link.' })),
  fail_code: nullable(Type.String()),
  fail_reason: nullable(Type.String()),
  callback_url: nullable(Type.String()),
  created_at: NullableTimestamp,
  started_at: NullableTimestamp,
  finished_at: NullableTimestamp,
  deadline_at: NullableTimestamp,
};

const RunAttemptView = Type.Object(
  {
    channel: Type.String({ description: "The channel's name." }),
    outcome: Type.String({ description: '`ok`, or the error code the attempt failed with.' }),
    started_at: nullable(Type.String({ format: 'date-time', description: 'When it was sent (null on runs logged before this was recorded).' })),
    latency_ms: Type.Number(),
  },
  { title: 'RunAttempt' },
);

const WEBHOOK_ATTEMPT_OUTCOMES = ['delivered', 'http_error', 'unreachable', 'refused'] as const;

const WebhookDeliveryView = Type.Object(
  {
    id: Type.String({ description: 'Sent as the webhook-id header.' }),
    url: Type.String(),
    status: stringEnum(['pending', 'delivered', 'failed'] as const),
    resend: Type.Boolean({ description: "Made by POST /admin/api/tasks/{id}/webhooks/resend, not by the task's ending." }),
    attempts: Type.Integer({ description: 'Attempts made so far.' }),
    last_status: nullable(Type.Integer()),
    last_error: nullable(Type.String()),
    next_attempt_at: NullableTimestamp,
    delivered_at: NullableTimestamp,
    created_at: Timestamp,
  },
  { title: 'WebhookDelivery' },
);

export const WebhookAttemptView = Type.Object(
  {
    delivery_id: Type.String(),
    attempt: Type.Integer({ description: '1-based, within its delivery.' }),
    attempted_at: Timestamp,
    outcome: stringEnum(WEBHOOK_ATTEMPT_OUTCOMES, {
      description: 'delivered (2xx), http_error (another status), unreachable (no answer, timeout), refused (the URL may not be called).',
    }),
    http_status: nullable(Type.Integer({ description: 'Null when the receiver was not reached.' })),
    error: nullable(Type.String()),
    latency_ms: Type.Integer(),
  },
  { title: 'WebhookAttempt' },
);

export const TIMELINE_KINDS = ['submitted', 'started', 'channel_attempt', 'run_ended', 'finished', 'webhook_queued', 'webhook_attempt'] as const;

export const TimelineEvent = Type.Object(
  {
    at: Timestamp,
    kind: stringEnum(TIMELINE_KINDS, {
      description:
        "submitted (the task was accepted), started (first picked up by a worker), channel_attempt (one upstream attempt of a run), run_ended (a run's outcome), finished (the final state), webhook_queued (a delivery was written, or resent), webhook_attempt (one POST to the callback).",
    }),
    detail: Type.String({ description: 'One line for people.' }),
    run_id: Type.Optional(Type.String()),
    channel: Type.Optional(Type.String()),
    outcome: Type.Optional(Type.String({ description: 'channel_attempt: ok or an error code; webhook_attempt: as in webhook_attempts; finished: the state.' })),
    latency_ms: Type.Optional(Type.Number()),
    delivery_id: Type.Optional(Type.String()),
    attempt: Type.Optional(Type.Integer()),
    http_status: Type.Optional(nullable(Type.Integer())),
    error: Type.Optional(nullable(Type.String())),
  },
  { title: 'TaskTimelineEvent' },
);
export type TimelineEvent = Static<typeof TimelineEvent>;

const AdminTaskView = Type.Object(TaskViewFields, { title: 'AdminTask' });
export type AdminTaskView = Static<typeof AdminTaskView>;
export type WebhookDeliveryView = Static<typeof WebhookDeliveryView>;
export type WebhookAttemptView = Static<typeof WebhookAttemptView>;
export type RunAttemptView = Static<typeof RunAttemptView>;

export const TaskSchemas = {
  list: {
    querystring: rowListQuery({
      state: Type.Optional(stringEnum(TASK_STATES, { description: 'Only tasks in this state.' })),
      ...KEY_FILTER,
      ...MODEL_FILTER,
      ...TIME_RANGE_QUERY,
    }),
    response: { 200: Type.Object({ object: Type.Literal('list'), data: Type.Array(AdminTaskView), ...MORE_AFTER }), ...errors() },
  },
  get: {
    params: IdParams,
    querystring: NoQuery,
    response: {
      200: Type.Object(
        {
          ...TaskViewFields,
          runs: Type.Array(
            Type.Object({
              id: Type.String({ description: "The run's request id: the task id, then `<task id>.<n>` for reruns." }),
              status: Type.Integer({ description: 'The HTTP status the run ended with.' }),
              error_code: nullable(Type.String()),
              channel: nullable(Type.String({ description: 'Every attempt as `channel:outcome`, comma-separated.' })),
              latency_ms: Type.Number({ description: 'The whole run.' }),
              attempts: Type.Array(RunAttemptView, { description: 'One per upstream attempt, in order.' }),
              created_at: Timestamp,
            }),
          ),
          webhook_deliveries: Type.Array(WebhookDeliveryView),
          webhook_attempts: Type.Array(WebhookAttemptView, {
            description: 'Every recorded attempt of every delivery (the latest 50 per delivery), oldest first.',
          }),
          timeline: Type.Array(TimelineEvent, { description: 'What happened to the task, oldest first: the fields above as one ordered list.' }),
        },
        { title: 'AdminTaskDetail' },
      ),
      ...errors(404),
    },
  },
  resendWebhook: {
    params: IdParams,
    querystring: NoQuery,
    body: NoBody,
    response: {
      // The new delivery, due now: the task's webhook body again, signed as usual, with a webhook-id of its own.
      202: WebhookDeliveryView,
      ...errors(404, 409),
    },
  },
};

// ---------------------------------------------------------------------------------------------
// Usage and the gateway's webhook secret

export const UsageTotalsView = Type.Object(
  {
    requests: Type.Integer(),
    succeeded: Type.Integer(),
    images: Type.Integer(),
    price: Type.Number({ description: 'USD charged to keys.' }),
    cost: Type.Number({ description: 'USD the upstreams cost.' }),
    margin: Type.Number({ description: 'price - cost.' }),
  },
  { title: 'UsageTotals' },
);

const byDay = Type.Composite([Type.Object({ day: Type.String({ description: 'YYYY-MM-DD (UTC).' }) }), UsageTotalsView]);
const byModel = Type.Composite([Type.Object({ model: Type.String() }), UsageTotalsView]);
const byKey = Type.Composite([Type.Object({ key_id: Type.String({ description: 'Empty for requests without a key.' }) }), UsageTotalsView]);

export const AdminUsageSchema = {
  querystring: rowListQuery({ ...KEY_FILTER, ...MODEL_FILTER, ...TIME_RANGE_QUERY }),
  response: {
    200: Type.Object(
      {
        object: Type.Literal('usage'),
        totals: UsageTotalsView,
        by_day: Type.Array(byDay),
        by_model: Type.Array(byModel),
        by_key: Type.Array(byKey),
        data: Type.Array(
          Type.Object({
            id: Type.String(),
            key_id: nullable(Type.String()),
            model: nullable(Type.String()),
            channel: nullable(Type.String()),
            operation: Type.String(),
            size: nullable(Type.String()),
            quality: nullable(Type.String()),
            n: Type.Integer(),
            delivered: Type.Integer(),
            status: Type.Integer(),
            error_code: nullable(Type.String()),
            latency_ms: Type.Number(),
            upstream_latency_ms: nullable(Type.Number()),
            price: nullable(Type.Number({ description: 'USD.' })),
            cost: nullable(Type.Number({ description: 'USD.' })),
            created_at: Timestamp,
          }),
          { description: 'The requests themselves, newest first (a page: limit and offset, or after).' },
        ),
        ...MORE_AFTER,
      },
      { title: 'AdminUsage' },
    ),
    ...errors(),
  },
};

const LatencyPercentiles = Type.Object(
  {
    p50: nullable(Type.Number()),
    p95: nullable(Type.Number()),
    p99: nullable(Type.Number()),
  },
  { description: "The requests' own latency (ms, as logged), nearest-rank percentiles; null without requests." },
);

const UsageFigures = {
  requests: Type.Integer(),
  succeeded: Type.Integer({ description: 'Answered 200.' }),
  errors: Type.Integer({ description: 'Answered with an HTTP status of 400 or more.' }),
  error_rate: Type.Number({ description: 'errors / requests (0 without requests).' }),
  images: Type.Integer({ description: 'Images delivered.' }),
  price: Type.Number({ description: 'USD charged to keys.' }),
  cost: Type.Number({ description: 'USD the upstreams cost the operator.' }),
  margin: Type.Number({ description: 'price - cost.' }),
  latency_ms: LatencyPercentiles,
};

export const USAGE_REPORT_FORMATS = ['json', 'csv'] as const;

export const UsageReportSchema = {
  summary: 'Usage analytics over a time range, grouped (JSON or CSV)',
  querystring: Type.Object({
    ...TIME_RANGE_QUERY,
    group_by: Type.Optional(
      Type.String({
        default: 'day',
        description:
          'One or two of day, model, key, channel, comma-separated (day,model: a row per day and model, for stacked charts). channel: the channel the request ended on (its last upstream attempt). Default day.',
      }),
    ),
    ...KEY_FILTER,
    ...MODEL_FILTER,
    channel: Type.Optional(Type.String({ description: 'Only requests that ended on this channel (its name).' })),
    format: Type.Optional(
      stringEnum(USAGE_REPORT_FORMATS, { description: 'csv: the groups as CSV with a header row (also chosen by Accept: text/csv). Default json.' }),
    ),
  }),
  response: {
    200: {
      description: 'The figures of the range and of each group; as CSV, one line per group.',
      content: {
        'application/json': {
          schema: Type.Object(
            {
              object: Type.Literal('usage_report'),
              from: NullableTimestamp,
              to: NullableTimestamp,
              group_by: Type.Array(stringEnum(USAGE_DIMENSIONS)),
              totals: Type.Object(UsageFigures, { title: 'UsageFigures' }),
              groups: Type.Array(
                Type.Object(
                  {
                    day: Type.Optional(Type.String({ description: 'YYYY-MM-DD (UTC); with group_by day.' })),
                    model: Type.Optional(nullable(Type.String({ description: 'With group_by model.' }))),
                    key_id: Type.Optional(nullable(Type.String({ description: 'With group_by key; null for requests without a key.' }))),
                    key_name: Type.Optional(nullable(Type.String({ description: "With group_by key: the key's name (null when it is gone)." }))),
                    channel: Type.Optional(nullable(Type.String({ description: 'With group_by channel; null for requests that reached no channel.' }))),
                    ...UsageFigures,
                  },
                  { title: 'UsageGroup' },
                ),
                { description: 'Ordered by the groups (days ascending).' },
              ),
            },
            { title: 'UsageReport' },
          ),
        },
        'text/csv': {
          schema: writtenAsIs(
            Type.String({
              description:
                'A header row, then one row per group: the group columns (day, model, key_id, key_name, channel as asked), requests, succeeded, errors, error_rate, images, price, cost, margin, latency_p50_ms, latency_p95_ms, latency_p99_ms.',
            }),
          ),
        },
      },
    },
    ...errors(),
  },
};

const GatewaySecret = Type.Object({ secret: Type.String({ description: 'Standard Webhooks secret (whsec_...).' }) });

export const WebhookSecretSchemas = {
  get: { querystring: NoQuery, response: { 200: GatewaySecret, ...errors() } },
  rotate: { querystring: NoQuery, body: NoBody, response: { 200: GatewaySecret, ...errors() } },
};
