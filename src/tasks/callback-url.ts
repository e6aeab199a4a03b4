/**
 * A task's `callback_url`, checked when the task is submitted, so a caller whose URL the gateway
 * will never call hears so at once (a 400 naming `callback_url`), before credits are reserved or
 * a task is stored. The same address policy as image URLs: public addresses only, unless the
 * operator allows private ones. A host name is resolved now and refused when any of its addresses
 * is not allowed; the outbox checks again at every delivery (SafeFetcher), since a name may
 * resolve elsewhere by then.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { withDeadline } from '../core/deadline.js';
import { invalidRequest } from '../core/errors.js';
import { createAddressFilter } from '../net/address-policy.js';

/** Longer URLs are refused: they are stored with the task and sent on every attempt. */
export const MAX_CALLBACK_URL_CHARS = 2048;
const DEFAULT_LOOKUP_TIMEOUT_MS = 3_000;
const PARAM = 'callback_url';

/** Every address `hostname` resolves to. */
export type ResolveHost = (hostname: string) => Promise<readonly string[]>;

/**
 * The URL to store (normalized, so what was checked is what is called), null when none was
 * given; throws a 400 GatewayError (param `callback_url`) for one the gateway will not call.
 */
export type CallbackUrlCheck = (value: unknown) => Promise<string | null>;

export interface CallbackUrlPolicy {
  /** Development and tests: any address, and no lookup. */
  allowPrivate: boolean;
  /** Private addresses or CIDRs the operator allows all the same. */
  allowAddresses?: readonly string[];
  resolve?: ResolveHost;
  lookupTimeoutMs?: number;
}

const resolveWithDns: ResolveHost = async (hostname) => (await lookup(hostname, { all: true, verbatim: true })).map((a) => a.address);

export function createCallbackUrlCheck(policy: CallbackUrlPolicy): CallbackUrlCheck {
  const allowed = createAddressFilter(policy.allowPrivate, policy.allowAddresses);
  const resolve = policy.resolve ?? resolveWithDns;
  const timeoutMs = policy.lookupTimeoutMs ?? DEFAULT_LOOKUP_TIMEOUT_MS;

  return async (value) => {
    const url = parseCallbackUrl(value);
    if (!url) return null;
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host)) {
      if (!allowed(host)) throw refused('callback_url points at a loopback, private, link-local or reserved address; the gateway only calls public addresses.');
      return url.href;
    }
    if (policy.allowPrivate) return url.href;
    const addresses = await withTimeout(resolve(host), timeoutMs).catch(() => null);
    // One answer for "does not resolve" and "resolves to a private address", naming only the host
    // as given: neither the addresses nor whether an internal name exists tell a caller about the
    // gateway's network.
    if (!addresses || addresses.length === 0 || !addresses.every(allowed)) {
      throw refused(`callback_url's host '${host}' does not resolve to public addresses only; the gateway only calls public addresses.`);
    }
    return url.href;
  };
}

/** The shape checks, without the network: null for absent or blank. */
function parseCallbackUrl(value: unknown): URL | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw invalidRequest(PARAM, 'invalid_type', 'callback_url must be a string (an http(s) URL).');
  const text = value.trim();
  if (text === '') return null;
  if (text.length > MAX_CALLBACK_URL_CHARS) {
    throw invalidRequest(PARAM, 'string_above_max_length', `callback_url is ${text.length} characters long; at most ${MAX_CALLBACK_URL_CHARS} are accepted.`);
  }
  // The URL parser silently drops tabs and line breaks inside a URL: refuse them instead.
  if (/[\s\u0000-\u001f\u007f]/.test(text)) throw refused('callback_url must not contain spaces or control characters.');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw refused('callback_url must be an absolute http(s) URL.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw refused('callback_url must be an http(s) URL.');
  // Credentials would be stored with the task and shown in the admin API.
  if (url.username !== '' || url.password !== '') throw refused('callback_url must not carry credentials (user:password@).');
  return url;
}

function refused(message: string) {
  return invalidRequest(PARAM, 'invalid_value', message);
}

/** `work`, or a rejection after `ms` (a DNS lookup cannot be cancelled; it is left to finish). */
function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  const late = (): never => {
    throw new Error(`no answer within ${ms} ms`);
  };
  return withDeadline(work, ms, late, { unref: true });
}
