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
