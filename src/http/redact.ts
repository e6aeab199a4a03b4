/** Shows only the ends of a secret (keys in errors and admin views), as OpenAI does. */
export function maskSecret(secret: string): string {
  return secret.length <= 8 ? '***' : `${secret.slice(0, 3)}…${secret.slice(-4)}`;
}
