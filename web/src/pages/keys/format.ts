/** How the key pages (Keys, Account) write money, times and limits. */

const usd = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 4 });

/** A balance in USD; null is unlimited. */
export function formatBalance(credits: number | null): string {
  return credits === null ? 'unlimited' : usd.format(credits);
}

export function formatUsd(amount: number): string {
  return usd.format(amount);
}

/** A signed amount: +$1.00, -$0.04. */
export function formatSignedUsd(amount: number): string {
  return `${amount > 0 ? '+' : amount < 0 ? '-' : ''}${usd.format(Math.abs(amount))}`;
}

export function formatTime(iso: string | null | undefined, none = '—'): string {
  return iso ? new Date(iso).toLocaleString() : none;
}

export interface Limits {
  rpm: number | null;
  max_concurrent: number | null;
  allowed_models: string[] | null;
  expires_at: string | null;
}

/** A key's limits in a few words: "60 rpm · 2 at once · gpt-image-1 · expires …", or "none". */
export function formatLimits(limits: Limits): string {
  const parts = [
    limits.rpm !== null ? `${limits.rpm} rpm` : null,
    limits.max_concurrent !== null ? `${limits.max_concurrent} at once` : null,
    limits.allowed_models !== null ? `models: ${limits.allowed_models.join(', ') || 'none'}` : null,
    limits.expires_at !== null ? `expires ${formatTime(limits.expires_at)}` : null,
  ].filter((part) => part !== null);
  return parts.length > 0 ? parts.join(' · ') : 'none';
}
