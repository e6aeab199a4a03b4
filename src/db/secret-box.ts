/**
 * Encryption at rest for secrets the gateway must keep usable (upstream API keys): AES-256-GCM
 * with a key the database never holds. `IMAGEGATE_SECRET_KEY` (shared by all instances), or for
 * the embedded default a key file created once in the data dir, beside but not inside the
 * database, so a copied database file or dump does not carry usable keys.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { DatabaseConfig } from '../config.js';

const PREFIX = 'enc:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  /** From 32 bytes as base64 (or base64url) or 64 hex characters; throws RangeError otherwise. */
  static fromText(text: string): SecretBox {
    const trimmed = text.trim();
    const key = /^[0-9a-f]{64}$/i.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
    if (key.length !== 32) throw new RangeError('must be 32 bytes, as base64 or 64 hex characters (e.g. `openssl rand -base64 32`)');
    return new SecretBox(key);
  }

  /** The key in `file`, created (mode 0600) when there is none yet. */
  static fromKeyFile(file: string): SecretBox {
    if (!existsSync(file)) {
      writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
      chmodSync(file, 0o600);
    }
    return SecretBox.fromText(readFileSync(file, 'utf8'));
  }

  seal(plain: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  /** Sealed values are opened; plain ones (stored before encryption was on) pass as they are. */
  open(value: string): string {
    if (!value.startsWith(PREFIX)) return value;
    const raw = Buffer.from(value.slice(PREFIX.length), 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, IV_BYTES));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new Error('a stored secret does not open with this IMAGEGATE_SECRET_KEY (was it changed?)');
    }
  }
}

/** True for a value `seal` made. */
export function isSealed(value: string): boolean {
  return value.startsWith(PREFIX);
}

/**
 * The box for this deployment: IMAGEGATE_SECRET_KEY when set; with SQLite a key file beside the
 * database file (`<db file>.key`: whoever opens that database finds its key, a copy of the file
 * alone does not carry it); none with PostgreSQL and no key (instances could not share a
 * generated file), which the caller warns about.
 */
export function openSecretBox(opts: { secretKey: string | undefined; database: DatabaseConfig; dataDir: string }): SecretBox | null {
  if (opts.secretKey) return SecretBox.fromText(opts.secretKey);
  if (opts.database.kind !== 'sqlite') return null;
  const file = opts.database.file === ':memory:' ? join(opts.dataDir, 'imagegate.db') : opts.database.file;
  mkdirSync(dirname(file), { recursive: true });
  return SecretBox.fromKeyFile(`${file}.key`);
}
