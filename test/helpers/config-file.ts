import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

let counter = 0;

/** Writes a YAML config file for IMAGEGATE_CONFIG and returns its path. */
export async function writeConfigFile(content: Record<string, unknown>): Promise<string> {
  const path = join(tmpdir(), `imagegate-config-${process.pid}-${++counter}.yaml`);
  await writeFile(path, stringify(content));
  return path;
}

/** An OpenAI-compatible channel for a config file: `key-<name>` as its upstream key. */
export function relayChannel(name: string, baseURL: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, kind: 'openai-compatible', base_url: baseURL, api_key: `key-${name}`, ...extra };
}
