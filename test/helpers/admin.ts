/** The admin API as tests call it: JSON in, JSON out, with the tests' admin key. */
export const TEST_ADMIN_KEY = 'admin-secret';

export async function adminJson(origin: string, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${origin}${path}`, {
    method,
    headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return (await res.json()) as Record<string, unknown>;
}

/** A key's credits once its settlements have landed (they land as a run ends: polled for ~2 s), or the last figure read. */
export async function settledCredits(origin: string, keyId: string, expected: number): Promise<number> {
  let credits = Number.NaN;
  for (let i = 0; i < 100 && credits !== expected; i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, 20));
    credits = Number((await adminJson(origin, 'GET', `/admin/api/keys/${keyId}`)).credits);
  }
  return credits;
}
