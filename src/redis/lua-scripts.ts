/** Lua scripts as the Redis-backed limiters and health stores run them: cached by SHA, with one clock. */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

export interface Script {
  readonly source: string;
  readonly sha: string;
}

export function luaScript(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

/**
 * The clock, as every script reads it: ARGV[1] in ms, or '' for the server's TIME. The server's
 * clock is what several instances should share (their own clocks may disagree); tests pass one.
 * Also defines int(): exact integer text, never 1.7e+12.
 */
export const LUA_NOW = `
if redis.replicate_commands then redis.replicate_commands() end -- Redis < 5: TIME, then writes
local function int(n) return string.format('%.0f', n) end
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/** ARGV[1] for LUA_NOW: the given clock's reading, or '' for the server's. */
export function clockArg(now: (() => number) | undefined): string {
  return now ? String(Math.floor(now())) : '';
}

/** EVALSHA, falling back to EVAL (which caches the script) when the server does not have it. */
export async function runScript(client: Redis, script: Script, keys: readonly string[], args: readonly string[]): Promise<unknown> {
  try {
    return await client.evalsha(script.sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!(err instanceof Error && err.message.startsWith('NOSCRIPT'))) throw err;
    return client.eval(script.source, keys.length, ...keys, ...args);
  }
}
