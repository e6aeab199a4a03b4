/**
 * The one way the console talks to the gateway: its public client (`/v1/*`, `/api/v1/*`) and admin (`/admin/api/*`)
 * endpoints, with the key from the session as a bearer token. Every failure becomes an ApiError carrying the
 * gateway's own message and code. Pages use it through TanStack Query (see web/README.md), never fetch() directly.
 */
import { errorFromAnswer } from './errors';

export type QueryValue = string | number | boolean | undefined | null;

/** A path of the public API, with its query parameters (empty ones left out). */
export function apiPath(path: string, query: Record<string, QueryValue> = {}): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value !== undefined && value !== null && value !== '') params.set(name, String(value));
  const search = params.toString();
  return search ? `${path}?${search}` : path;
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  /** A plain object is sent as JSON; FormData as multipart (the browser writes its boundary). */
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export class ApiClient {
  constructor(private readonly key: string) {}

  /** The raw answer, checked: anything but 2xx throws the gateway's error. For streams and downloads. */
  async send(path: string, options: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.key}`, ...options.headers };
    let body: BodyInit | undefined;
    if (options.body instanceof FormData) body = options.body;
    else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    const init: RequestInit = { method: options.method ?? (body === undefined ? 'GET' : 'POST'), headers, cache: 'no-store' };
    if (body !== undefined) init.body = body;
    if (options.signal) init.signal = options.signal;
    const res = await fetch(path, init);
    if (!res.ok) throw errorFromAnswer(res.status, await res.text());
    return res;
  }

  /** A JSON answer (undefined for 204). The type is the caller's reading of the documented answer. */
  async json<T>(path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.send(path, options);
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  get<T>(path: string, query: Record<string, QueryValue> = {}, signal?: AbortSignal): Promise<T> {
    return this.json<T>(apiPath(path, query), signal ? { signal } : {});
  }

  post<T>(path: string, body: unknown, headers: Record<string, string> = {}): Promise<T> {
    return this.json<T>(path, { method: 'POST', body, headers });
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.json<T>(path, { method: 'PATCH', body });
  }

  delete(path: string): Promise<void> {
    return this.json<void>(path, { method: 'DELETE' });
  }
}
