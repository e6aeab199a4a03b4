/**
 * imagegate.example.yaml, the commented example of every config-file setting, loads through the
 * real loader without an error, and names every top-level key the loader knows (so a new setting
 * without an example fails here) and no key the loader does not know, and has a channel of every
 * kind the loader accepts (so a new kind without an example fails here too).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { CONFIG_FILE_KEYS, loadConfig } from '../src/config.js';
import { CHANNEL_KINDS } from '../src/core/channel.js';

const EXAMPLE = resolve(import.meta.dirname, '..', 'imagegate.example.yaml');

describe('imagegate.example.yaml', () => {
  it('loads through the real config loader with no error', () => {
    const config = loadConfig({ IMAGEGATE_CONFIG: EXAMPLE });
    expect(config.port).toBe(8080);
    expect(config.host).toBe('127.0.0.1');
    expect(config.modelAliases.map((m) => m.name)).toEqual(['poster', 'small-square']);
    expect(config.channels.map((c) => c.name)).toEqual([
      'demo-local',
      'official',
      'relay-a',
      'azure-east',
      'async-relay',
      'task-vendor',
      'recraft',
      'ark',
      'byteplus',
      'dashscope',
      'gemini',
      'vertex',
      'bfl',
      'fal',
      'replicate',
      'openrouter',
      'stability',
      'midjourney',
    ]);
    // Safe placeholders: only the demo channel is enabled, no S3, no Redis, no admin API.
    expect(config.channels.filter((c) => c.enabled).map((c) => c.kind)).toEqual(['demo']);
    expect(config.s3).toBeUndefined();
    expect(config.redisUrl).toBeUndefined();
    expect(config.adminKey).toBeUndefined();
  });

  it('has every top-level key the loader knows, and no other', () => {
    const parsed = parseYaml(readFileSync(EXAMPLE, 'utf8')) as Record<string, unknown>;
    const present = Object.keys(parsed);
    expect(CONFIG_FILE_KEYS.length).toBeGreaterThan(50);
    expect(CONFIG_FILE_KEYS.filter((key) => !present.includes(key))).toEqual([]);
    expect(present.filter((key) => !CONFIG_FILE_KEYS.includes(key))).toEqual([]);
  });

  it('has a channel of every channel kind', () => {
    const kinds = new Set<string>(loadConfig({ IMAGEGATE_CONFIG: EXAMPLE }).channels.map((c) => c.kind));
    expect(CHANNEL_KINDS.length).toBeGreaterThan(15);
    expect(CHANNEL_KINDS.filter((kind) => !kinds.has(kind))).toEqual([]);
  });
});
