/**
 * A client key's own account (/v1/account...): the key and its limits, its images, its tasks with
 * their runs and webhook deliveries, its usage. Only that key's things, never another's (another
 * key's image or task is "not found"), and nothing only the operator sees (channels, upstream
 * task ids, upstream cost). Errors are OpenAI's envelope.
 */
import { Type } from '@sinclair/typebox';
import { MODEL_FILTER, MORE_AFTER, rowListQuery, stringEnum, TIME_RANGE_QUERY } from '../admin-list.js';
import { TASK_STATES, TimelineEvent, WebhookAttemptView } from './admin.js';
import { errorResponses, IdParams, NoQuery, nullable, NullableTimestamp, Timestamp } from './common.js';

const errors = (...statuses: 404[]) => errorResponses('openai', 'client', statuses);

const AccountView = Type.Object(
  {
    id: Type.String({ description: 'The key id (`env:<prefix>` for a key from IMAGEGATE_API_KEYS).' }),
    object: Type.Literal('account'),
    name: Type.String(),
    prefix: Type.String({ description: "The key's visible start." }),
    credits: nullable(Type.Number({ description: 'Balance in USD; null: unlimited.' })),
    balance_micros: nullable(Type.Integer({ description: 'Balance in micro-dollars; null: unlimited.' })),
    enabled: Type.Boolean(),
    expires_at: NullableTimestamp,
    allowed_models: nullable(Type.Array(Type.String(), { description: 'null: every model.' })),
    rpm: nullable(Type.Integer({ description: 'Requests per minute; null: no limit.' })),
    max_concurrent: nullable(Type.Integer({ description: 'Requests at once; null: no limit.' })),
    created_at: NullableTimestamp,
  },
  { title: 'Account' },
);

const OwnTaskFields = {
  id: Type.String(),
  object: Type.Literal('task'),
  dialect: stringEnum(['newapi', 'task_api'] as const, { description: 'The dialect it was submitted in.' }),
  action: stringEnum(['generations', 'edits'] as const),
  model: Type.String(),
  state: stringEnum(TASK_STATES),
  attempts: Type.Integer({ description: 'Runs so far.' }),
  image_urls: Type.Array(Type.String({ description: 'Signed link.' })),
  fail_code: nullable(Type.String()),
  fail_reason: nullable(Type.String()),
  callback_url: nullable(Type.String()),
  created_at: NullableTimestamp,
  started_at: NullableTimestamp,
  finished_at: NullableTimestamp,
  deadline_at: NullableTimestamp,
};

const OwnTask = Type.Object(OwnTaskFields, { title: 'AccountTask' });

const OwnTaskDetail = Type.Object(
  {
    ...OwnTaskFields,
    runs: Type.Array(
      Type.Object({
        id: Type.String({ description: 'The run (`<task id>`, then `<task id>.<attempt>`).' }),
        status: Type.Integer({ description: 'The HTTP status the run ended with.' }),
        error_code: nullable(Type.String()),
        latency_ms: Type.Number(),
        attempts: Type.Array(
          Type.Object({
            outcome: Type.String({ description: 'ok, or the error code the upstream attempt failed with.' }),
            started_at: NullableTimestamp,
            latency_ms: Type.Number(),
          }),
          { description: 'One per upstream attempt, in order (which channel is not shown).' },
        ),
        created_at: Timestamp,
      }),
    ),
    webhook_deliveries: Type.Array(
      Type.Object({
        id: Type.String(),
        url: Type.String(),
        status: stringEnum(['pending', 'delivered', 'failed'] as const),
        resend: Type.Boolean({ description: "Made by the operator's resend, not by the task's ending." }),
        attempts: Type.Integer(),
        last_status: nullable(Type.Integer({ description: "The receiver's last HTTP status." })),
        last_error: nullable(Type.String()),
        next_attempt_at: NullableTimestamp,
        delivered_at: NullableTimestamp,
        created_at: Timestamp,
      }),
    ),
    webhook_attempts: Type.Array(WebhookAttemptView, { description: 'Each POST to the callback, oldest first (the latest few of each delivery).' }),
    timeline: Type.Array(TimelineEvent, {
      description:
        "Everything above as one list of events, oldest first, as the admin API's task timeline gives it, without channel names or the upstream's task id.",
    }),
  },
  { title: 'AccountTaskDetail' },
);

const UsageTotals = Type.Object(
  {
    requests: Type.Integer(),
    succeeded: Type.Integer(),
    errors: Type.Integer({ description: 'Requests that did not succeed.' }),
    images: Type.Integer({ description: 'Images delivered.' }),
    spend: Type.Number({ description: 'USD charged to the key.' }),
  },
  { title: 'AccountUsageTotals' },
);

export const AccountSchemas = {
  account: { querystring: NoQuery, response: { 200: AccountView, ...errors() } },
  tasks: {
    querystring: rowListQuery({
      state: Type.Optional(stringEnum(TASK_STATES, { description: 'Only tasks in this state.' })),
      ...MODEL_FILTER,
      ...TIME_RANGE_QUERY,
    }),
    response: { 200: Type.Object({ object: Type.Literal('list'), data: Type.Array(OwnTask, { description: 'Newest first.' }), ...MORE_AFTER }), ...errors() },
  },
  task: { params: IdParams, querystring: NoQuery, response: { 200: OwnTaskDetail, ...errors(404) } },
  usage: {
    querystring: Type.Object({ ...MODEL_FILTER, ...TIME_RANGE_QUERY }),
    response: {
      200: Type.Object(
        {
          object: Type.Literal('usage'),
          totals: UsageTotals,
          by_day: Type.Array(Type.Composite([Type.Object({ day: Type.String({ description: 'YYYY-MM-DD (UTC).' }) }), UsageTotals])),
          by_model: Type.Array(Type.Composite([Type.Object({ model: Type.String() }), UsageTotals])),
        },
        { title: 'AccountUsage' },
      ),
      ...errors(),
    },
  },
};
