import { createHmac, timingSafeEqual } from 'node:crypto';

export type SignatureCheck = 'valid' | 'tampered' | 'expired';

/** Signs image links: HMAC-SHA256 over name and expiry, so links can't be forged or extended. */
export class UrlSigner {
  constructor(
    private readonly secret: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Query string for `name`, valid for `ttlSeconds`. */
  sign(name: string, ttlSeconds: number): { expires: number; sig: string } {
    // Rounded up: a link is valid for at least its TTL, never a fraction of a second less.
    const expires = Math.ceil((this.now() + ttlSeconds * 1000) / 1000);
    return { expires, sig: this.mac(name, expires) };
  }

  check(name: string, expires: string | undefined, sig: string | undefined): SignatureCheck {
    if (!expires || !sig || !/^\d{1,12}$/.test(expires)) return 'tampered';
    const expected = Buffer.from(this.mac(name, Number(expires)));
    const given = Buffer.from(sig);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'tampered';
    return Number(expires) * 1000 < this.now() ? 'expired' : 'valid';
  }

  private mac(name: string, expires: number): string {
    return createHmac('sha256', this.secret).update(`${name}\n${expires}`).digest('base64url');
  }
}
