/**
 * An image link as the page should load it. The gateway signs /files links with its public address
 * (IMAGEGATE_PUBLIC_URL, else the address it listens on), which may name this host differently from the
 * address bar (127.0.0.1 beside localhost): a link to this gateway's /files/ is loaded from this origin,
 * which the console's CSP allows. Other links (a bucket's) are left as they are.
 */
export function displayableImageUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url, window.location.href);
  } catch {
    return url;
  }
  if (
    parsed.origin !== window.location.origin &&
    parsed.pathname.startsWith('/files/') &&
    isLoopback(parsed.hostname) &&
    isLoopback(window.location.hostname)
  ) {
    return `${parsed.pathname}${parsed.search}`;
  }
  return parsed.href;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '127.0.0.1' || host === '[::1]' || host === '::1';
}
