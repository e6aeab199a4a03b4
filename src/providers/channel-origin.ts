/**
 * Where a channel's key may go: its own origin (scheme, host and port of its base_url). A vendor
 * answering with URLs to follow (BFL's polling_url, fal's response_url) is followed with the key
 * only there, so a relay or a forged answer cannot send it elsewhere.
 */

/** Whether `url` is on the origin of `baseUrl`; false when either does not parse. */
export function sameOrigin(url: string | URL, baseUrl: string): boolean {
  try {
    return new URL(url).origin === new URL(baseUrl).origin;
  } catch {
    return false;
  }
}
