/**
 * Where a BFL task is polled, and which URLs may see the channel's key. BFL answers a submission
 * with the `polling_url` of the region that took it (the global endpoint hands tasks to regions),
 * so that URL, not the id alone, is what a resumed run needs: it is what the task stores as its
 * upstream id. The key goes only to the channel's own origin or an https host under bfl.ai; a
 * polling_url anywhere else is never followed with the key: the task is polled at the channel's
 * own `/v1/get_result?id=` instead.
 */
import { sameOrigin } from '../channel-origin.js';

const BFL_DOMAIN = 'bfl.ai';

/** Whether this URL may be sent the channel's key: the channel's origin, or https on bfl.ai and its subdomains. */
export function mayCarryKey(url: URL, baseUrl: string): boolean {
  if (url.username !== '' || url.password !== '') return false;
  if (sameOrigin(url, baseUrl)) return true;
  const host = url.hostname.toLowerCase();
  return url.protocol === 'https:' && (host === BFL_DOMAIN || host.endsWith(`.${BFL_DOMAIN}`));
}

/** What a task stores as its upstream id: its polling_url when the key may go there, else its bare id. */
export function storedTaskRef(id: string, pollingUrl: string | undefined, baseUrl: string): string {
  const url = pollingUrl !== undefined ? parseUrl(pollingUrl) : undefined;
  return url && mayCarryKey(url, baseUrl) ? url.href : id;
}

/** The URL to poll for a stored task ref (a polling_url or a bare id), never one the key may not go to. */
export function pollUrlFor(ref: string, baseUrl: string): string {
  const url = /^https?:\/\//i.test(ref) ? parseUrl(ref) : undefined;
  if (url && mayCarryKey(url, baseUrl)) return url.href;
  const id = url ? (url.searchParams.get('id') ?? ref) : ref;
  return `${baseUrl.replace(/\/+$/, '')}/v1/get_result?id=${encodeURIComponent(id)}`;
}

function parseUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}
