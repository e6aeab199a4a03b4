import { describe, expect, it } from 'vitest';
import { UrlSigner } from '../src/storage/url-signer.js';

describe('UrlSigner', () => {
  it('keeps a link valid for at least its TTL, even when signed just before a second ticks', () => {
    let now = 1_000_999; // 999 ms into a second
    const signer = new UrlSigner('secret', () => now);
    const { expires, sig } = signer.sign('a.png', 1);
    now += 1_000;
    expect(signer.check('a.png', String(expires), sig)).toBe('valid');
    now += 1_001;
    expect(signer.check('a.png', String(expires), sig)).toBe('expired');
  });

  it('tells tampering from expiry', () => {
    let now = 5_000_000;
    const signer = new UrlSigner('secret', () => now);
    const { expires, sig } = signer.sign('a.png', 60);
    expect(signer.check('b.png', String(expires), sig)).toBe('tampered');
    expect(signer.check('a.png', String(expires + 1), sig)).toBe('tampered');
    expect(signer.check('a.png', String(expires), `${sig.slice(0, -1)}A`)).toBe(sig.endsWith('A') ? 'valid' : 'tampered');
    expect(signer.check('a.png', undefined, sig)).toBe('tampered');
    expect(signer.check('a.png', '12abc', sig)).toBe('tampered');
    expect(new UrlSigner('other', () => now).check('a.png', String(expires), sig)).toBe('tampered');
    now += 61_000;
    expect(signer.check('a.png', String(expires), sig)).toBe('expired');
  });
});
