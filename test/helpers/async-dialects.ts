/**
 * A generation through each async dialect, run to its end: new-api's (the async header on
 * /v1/images/generations, then GET /v1/images/tasks/{id}) and the task API's (POST
 * /api/v1/images/generations, then GET ?task_id=). Polled every 25 ms, up to `tries` times.
 */
import { expect } from 'vitest';
import { postJson, type TestGateway } from './gateway.js';

export interface NewApiView {
  status: string;
  image_urls: string[];
  fail_reason: string;
}

export interface TaskApiView {
  state: string;
  resultUrls: string[] | null;
  failMsg: string | null;
}

const POLL_MS = 25;

/** new-api's async dialect: submitted (checked), then polled until it succeeds or fails. */
export async function newApiAsync(gw: TestGateway, body: Record<string, unknown>, tries = 600): Promise<NewApiView | undefined> {
  const submitted = await postJson(gw, '/v1/images/generations', body, { 'x-new-api-async-task': 'true' });
  expect(submitted.status, submitted.text).toBe(200);
  expect(submitted.json).toMatchObject({ code: 'success', data: { status: 'submitted' } });
  return newApiTask(gw, String((submitted.json?.data as { task_id: string }).task_id), gw.apiKey, tries);
}

/** One new-api task polled until it succeeds or fails. */
export async function newApiTask(gw: TestGateway, id: string, key = gw.apiKey, tries = 600): Promise<NewApiView | undefined> {
  let view: NewApiView | undefined;
  for (let i = 0; i < tries && view?.status !== 'succeeded' && view?.status !== 'failed'; i++) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    const res = await fetch(`${gw.baseURL}/images/tasks/${id}`, { headers: { authorization: `Bearer ${key}` } });
    view = ((await res.json()) as { data: NewApiView }).data;
  }
  return view;
}

/** The task API dialect: created (code 200, checked), then polled until it completes or fails. */
export async function taskApi(gw: TestGateway, body: Record<string, unknown>, tries = 600): Promise<TaskApiView | undefined> {
  const headers = { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' };
  const created = await fetch(`${gw.origin}/api/v1/images/generations`, { method: 'POST', headers, body: JSON.stringify(body) });
  const answer = (await created.json()) as { code: number; data: { taskId: string } };
  expect(answer.code, JSON.stringify(answer)).toBe(200);
  let view: TaskApiView | undefined;
  for (let i = 0; i < tries && view?.state !== 'completed' && view?.state !== 'failed'; i++) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    const res = await fetch(`${gw.origin}/api/v1/images/generations?task_id=${encodeURIComponent(answer.data.taskId)}`, { headers });
    view = ((await res.json()) as { data: TaskApiView }).data;
  }
  return view;
}
