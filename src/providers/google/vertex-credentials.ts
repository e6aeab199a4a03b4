/**
 * Vertex AI's bearer tokens from a channel's key, which is a service account's JSON key (or the
 * path of its file). google-auth-library signs the JWT-bearer grant with the account's private key,
 * exchanges it at the account's token endpoint and refreshes the access token before it expires;
 * one client per key, kept while the key is in use.
 *
 * The token endpoint is the key file's `token_uri` (Google's is https://oauth2.googleapis.com/token;
 * the library posts there, and here is pointed at another when the key names one). A key that is not
 * a service-account key, or that the endpoint refuses (invalid_grant...), is a 401: routing disables it.
 */
import { readFile } from 'node:fs/promises';
import type { JWT } from 'google-auth-library';
import { UpstreamFailure } from '../../core/upstream-failure.js';
import { objectOf, stringOf } from './errors.js';

const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
/** Where google-auth-library sends the grant. */
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
/** Keys kept at once (a few per channel); the oldest is dropped beyond it. */
const MAX_CLIENTS = 64;

export class VertexCredentials {
  private readonly clients = new Map<string, Promise<JWT>>();

  /**
   * An access token for the key; UpstreamFailure when it cannot be had. Bounded by the call's signal
   * and the channel's timeout (the library's own request has neither): past them the exchange is
   * left to finish on its own, its token kept for the next call.
   */
  async accessToken(key: string, signal: AbortSignal, timeoutMs: number): Promise<string> {
    const client = await this.clientFor(key);
    try {
      const { token } = await bounded(client.getAccessToken(), signal, timeoutMs);
      if (!token) throw new Error('the token endpoint answered no access_token');
      return token;
    } catch (err) {
      throw tokenFailure(err);
    }
  }

  private clientFor(key: string): Promise<JWT> {
    let client = this.clients.get(key);
    if (client === undefined) {
      client = jwtClient(key);
      this.clients.set(key, client);
      client.catch(() => this.clients.delete(key));
      while (this.clients.size > MAX_CLIENTS) {
        const oldest = this.clients.keys().next();
        if (oldest.done === true) break;
        this.clients.delete(oldest.value);
      }
    }
    return client;
  }
}

/** The promise, unless the signal aborts or the time runs out first. */
function bounded<T>(work: Promise<T>, signal: AbortSignal, timeoutMs: number): Promise<T> {
  if (signal.aborted) return Promise.reject(new UpstreamFailure('aborted', 'the call was aborted before the token exchange'));
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => finish(() => reject(new UpstreamFailure('timeout', `Vertex AI token exchange took longer than ${timeoutMs} ms`))),
      timeoutMs,
    );
    const onAbort = () => finish(() => reject(new UpstreamFailure('aborted', 'the call was aborted during the token exchange')));
    const finish = (settle: () => void) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      settle();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => finish(() => resolve(value)),
      (err: unknown) => finish(() => reject(err)),
    );
  });
}

async function jwtClient(key: string): Promise<JWT> {
  const text = key.trimStart().startsWith('{') ? key : await readKeyFile(key);
  const json = objectOf(parseJson(text));
  const email = stringOf(json?.client_email);
  const privateKey = stringOf(json?.private_key);
  if (json?.type !== 'service_account' || email === undefined || privateKey === undefined) {
    throw new UpstreamFailure('http', 'the vertex-ai key is not a service-account key (JSON with type service_account, client_email, private_key)', 401);
  }
  const keyId = stringOf(json.private_key_id);
  // Loaded with the first vertex-ai key: the library and its HTTP stack cost ~14 MB and a third of a second at start.
  const { JWT } = await import('google-auth-library');
  const client = new JWT({ email, key: privateKey, ...(keyId ? { keyId } : {}), scopes: [CLOUD_PLATFORM_SCOPE] });
  const tokenUri = stringOf(json.token_uri);
  if (tokenUri !== undefined && tokenUri !== GOOGLE_TOKEN_URL) {
    const target = new URL(tokenUri);
    client.transporter.interceptors.request.add({
      resolved: async (options) => {
        if (String(options.url) === GOOGLE_TOKEN_URL) options.url = target;
        return options;
      },
    });
  }
  return client;
}

async function readKeyFile(path: string): Promise<string> {
  try {
    return await readFile(path.trim(), 'utf8');
  } catch {
    throw new UpstreamFailure('http', 'the vertex-ai key is neither a service-account JSON key nor a readable key file', 401);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The token exchange's failure: refused credentials are a 401 (the key is disabled), the rest as it came. */
function tokenFailure(err: unknown): UpstreamFailure {
  if (err instanceof UpstreamFailure) return err;
  const status = statusOf(err);
  const message = err instanceof Error ? err.message : String(err);
  if (status === undefined) return new UpstreamFailure('connection', `Vertex AI token exchange failed: ${message}`);
  const refused = status === 400 || status === 401 || status === 403;
  return new UpstreamFailure('http', `Vertex AI token exchange answered ${status}: ${message}`, refused ? 401 : status, { message, code: null });
}

function statusOf(err: unknown): number | undefined {
  const e = objectOf(err);
  const direct = e?.status;
  if (typeof direct === 'number') return direct;
  const status = objectOf(e?.response)?.status;
  return typeof status === 'number' ? status : undefined;
}
