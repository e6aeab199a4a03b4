/**
 * The task API dialect's schemas (/api/v1/images/generations): every answer, errors too, is
 * `{code, msg, data}` with `code` the HTTP status. The create body is the task API's fields plus
 * any OpenAI generation field; it is turned into a generation and judged by the same parser
 * (http/task-api.ts), so as on /v1, ajv checks types and the parser values.
 */
import { Type } from '@sinclair/typebox';
import { MAX_INPUT_IMAGES } from '../../core/image-input.js';
import { describedOnly, errorResponses, IDEMPOTENCY_KEY_HEADER, NoQuery, nullable, optionalNullable } from './common.js';
import { COMMON_FIELDS, ImageString, PROMPT_FIELDS } from './openai.js';

const success = <T extends Parameters<typeof Type.Object>[0]>(data: T, title: string) =>
  Type.Object({ code: Type.Integer({ description: '200.' }), msg: Type.String({ description: 'success' }), data: Type.Object(data, { title }) });

const STATE = Type.Union([Type.Literal('pending'), Type.Literal('processing'), Type.Literal('completed'), Type.Literal('failed')]);

const SubmitBody = Type.Object(
  {
    ...PROMPT_FIELDS,
    ...COMMON_FIELDS,
    model: nullable(Type.String({ description: 'Required: a model of GET /v1/models.' })),
    // Checked by the parser (aspect_ratio against the model's sizes) and renamed back in its errors.
    aspect_ratio: Type.Optional(describedOnly(nullable(Type.String({ description: "auto, 1:1, 16:9, 9:16... (instead of size): the model's nearest size." })))),
    image_url: optionalNullable(Type.String({ description: 'One reference image: an http(s) URL or a data URI.' })),
    image_urls: Type.Optional(
      describedOnly(nullable(Type.Array(ImageString, { maxItems: MAX_INPUT_IMAGES, description: 'Reference images (makes the task an edit).' }))),
    ),
    image: Type.Optional(describedOnly(nullable(Type.Union([ImageString, Type.Array(ImageString)])))),
    nsfw_checker: optionalNullable(
      Type.Boolean({
        description:
          "true: every output image is checked by the gateway's content check before delivery (a refusal fails the task: Content policy violation); a task-API upstream also gets it.",
      }),
    ),
    callback_url: Type.Optional(
      describedOnly(nullable(Type.String({ format: 'uri', description: 'http(s), a public address: gets the finished task by a signed webhook.' }))),
    ),
  },
  { title: 'TaskApiCreateRequest', description: 'Not stream: tasks are asynchronous.' },
);

const TaskView = {
  taskId: Type.String(),
  model: Type.String(),
  state: STATE,
  resultUrls: nullable(Type.Array(Type.String(), { description: 'Signed links, once completed.' })),
  createTime: Type.Integer({ description: 'Epoch ms.' }),
  completeTime: nullable(Type.Integer({ description: 'Epoch ms.' })),
  failCode: nullable(Type.String()),
  failMsg: nullable(Type.String()),
};

export const TaskApiSubmitSchema = {
  headers: Type.Object(IDEMPOTENCY_KEY_HEADER),
  querystring: NoQuery,
  body: SubmitBody,
  response: {
    200: success({ taskId: Type.String(), state: STATE }, 'TaskApiTaskCreated'),
    ...errorResponses('task-api', 'client', [402, 404, 409, 429, 502, 503]),
  },
};

export const TaskApiQuerySchema = {
  querystring: Type.Object({ task_id: Type.String({ description: 'The task, as created.' }) }),
  response: { 200: success(TaskView, 'TaskApiTask'), ...errorResponses('task-api', 'task-owner', [404]) },
};
