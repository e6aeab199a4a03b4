// Where a vendor simulator hosts the images it answers as URLs, as the vendor's CDN or bucket
// does: each for a while (then its URL is the vendor's own 404, as an expired signed URL is),
// the oldest dropped past a bound so long benchmarks do not grow without limit.
import type { SimResponse } from './http-server.js';

const MAX_HOSTED = 2_000;

interface HostedFile {
  bytes: Buffer;
  contentType: string;
  expiresAt: number;
}

export class HostedFiles {
  /** Every URL handed out, oldest first (a test fetches one after it has expired). */
  readonly answered: string[] = [];
  private readonly files = new Map<string, HostedFile>();

  /**
   * Hosts `bytes` under `name` (a path or a file name, as the simulator routes it) for `ttlMs`;
   * returns `url`, where the simulator serves it, after recording it in `answered`.
   */
  host(name: string, url: string, bytes: Buffer, contentType: string, ttlMs: number): string {
    this.files.set(name, { bytes, contentType, expiresAt: Date.now() + ttlMs });
    while (this.files.size > MAX_HOSTED) {
      const oldest = this.files.keys().next();
      if (oldest.done === true) break;
      this.files.delete(oldest.value);
    }
    this.answered.push(url);
    return url;
  }

  /** The file as a 200 with its type, or `gone()` (the vendor's own 404) when it is unknown or has expired. */
  serve(name: string, gone: () => SimResponse): SimResponse {
    const file = this.files.get(name);
    if (!file || file.expiresAt <= Date.now()) {
      this.files.delete(name);
      return gone();
    }
    return { kind: 'full', status: 200, headers: { 'content-type': file.contentType }, body: file.bytes };
  }
}
