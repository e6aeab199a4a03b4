/** Downloads an image an upstream returned by URL, with a timeout and a size cap. */
import { UpstreamFailure } from '../core/upstream-failure.js';
import type { Transport } from '../providers/transport.js';
import type { ImageFetcher } from './image-output.js';

export function createImageFetcher(transport: Transport, timeoutMs: number): ImageFetcher {
  return async (url, signal) => {
    const protocol = new URL(url).protocol;
    if (protocol !== 'http:' && protocol !== 'https:') throw new UpstreamFailure('protocol', `unsupported image URL scheme ${protocol}`);
    const res = await transport.send({ method: 'GET', url, headers: { accept: 'image/*' }, timeoutMs, signal });
    if (res.status !== 200) throw new UpstreamFailure('http', `image download answered ${res.status}`, res.status);
    return res.body;
  };
}
