/**
 * The font the demo draws its text with, so that a prompt in any script shows as text and not as
 * boxes on a machine without fonts for it (most servers and containers have no CJK font; slim
 * images have no font at all). UnifontExMono (GNU Unifont's glyphs, SIL OFL 1.1, package
 * @fontsource/unifontex): one file that covers Latin, Chinese (simplified and traditional),
 * kana, Hangul and the rest of Unicode's basic plane.
 *
 * The package ships it as WOFF only, which the FreeType inside sharp's libvips does not read; the
 * WOFF is decoded here into the TrueType file it wraps (zlib per table, tables unchanged: the same
 * font, not a modified one), the first time a process needs it, into a folder of the user's own
 * under the system's temporary directory, where later processes find it. sharp's `text` input
 * loads it by path (`fontfile`), which adds it to the process's own fontconfig: it needs no font
 * installed and no fontconfig file, and changes nothing of the machine's font setup.
 */
import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';

/** The family name inside the font file: what a Pango font description asks for. */
export const DEMO_FONT_FAMILY = 'UnifontExMono';

const PACKAGE_FILE = '@fontsource/unifontex/files/unifontex-latin-400-normal.woff';

let prepared: Promise<string | undefined> | undefined;

/**
 * The path of the demo's TrueType font, ready for sharp's `text.fontfile`; undefined when it
 * cannot be had (the package missing, no writable temporary directory), after one warning: the
 * demo then draws with the machine's fonts, as it did before it shipped one.
 */
export function demoFontFile(): Promise<string | undefined> {
  prepared ??= prepare().catch((err: unknown) => {
    const why = err instanceof Error ? err.message : String(err);
    process.emitWarning(`the demo's font could not be prepared (${why}); its images draw text with the machine's fonts`, 'ImagegateDemoFont');
    return undefined;
  });
  return prepared;
}

async function prepare(): Promise<string> {
  const woff = await readFile(createRequire(import.meta.url).resolve(PACKAGE_FILE));
  const dir = await privateDir();
  // Named by the WOFF's hash: another version of the package decodes to another file.
  const file = join(dir, `${DEMO_FONT_FAMILY}-${createHash('sha256').update(woff).digest('hex').slice(0, 16)}.ttf`);
  const existing = await stat(file).catch(() => undefined);
  // Decoded already (by this user: the folder is theirs alone), whole: the WOFF header says how long the font is.
  if (existing?.isFile() && woff.length >= 20 && existing.size === woff.readUInt32BE(16)) return file;
  const font = sfntOfWoff(woff);
  // Written aside, then renamed into place: a process starting at the same time never loads half a font.
  const partial = `${file}.${process.pid}.${Date.now()}.part`;
  await writeFile(partial, font, { mode: 0o600 });
  await rename(partial, file);
  return file;
}

/**
 * `imagegate-fonts-<uid>` under the temporary directory, made if missing, used only when it is
 * this user's own and no one else may write in it (a font file is parsed by native code: it must
 * not be someone else's); otherwise a fresh private folder.
 */
async function privateDir(): Promise<string> {
  const uid = process.getuid?.();
  const dir = join(tmpdir(), `imagegate-fonts-${uid ?? 'user'}`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const info = await lstat(dir);
  const ours = info.isDirectory() && (uid === undefined || (info.uid === uid && (info.mode & 0o022) === 0));
  return ours ? dir : mkdtemp(join(tmpdir(), 'imagegate-fonts-'));
}

interface Table {
  readonly tag: string;
  readonly checksum: number;
  readonly data: Buffer;
}

/**
 * The sfnt (TrueType or OpenType) font a WOFF 1.0 file wraps (W3C WOFF File Format 1.0): each
 * table inflated where it was compressed, then laid out again behind an sfnt header and table
 * directory, each table 4-byte aligned. Throws on anything that is not a well-formed WOFF.
 */
export function sfntOfWoff(woff: Buffer): Buffer {
  const fail = (why: string): never => {
    throw new Error(`not a well-formed WOFF file: ${why}`);
  };
  if (woff.length < 44 || woff.toString('latin1', 0, 4) !== 'wOFF') fail('no wOFF signature');
  if (woff.readUInt32BE(8) !== woff.length) fail('its length field does not match its size');
  const flavor = woff.readUInt32BE(4);
  const count = woff.readUInt16BE(12);
  if (count === 0 || 44 + 20 * count > woff.length) fail('bad table count');
  const tables: Table[] = [];
  for (let i = 0; i < count; i++) {
    const at = 44 + 20 * i;
    const tag = woff.toString('latin1', at, at + 4);
    const offset = woff.readUInt32BE(at + 4);
    const compressed = woff.readUInt32BE(at + 8);
    const original = woff.readUInt32BE(at + 12);
    if (offset + compressed > woff.length || compressed > original) fail(`table ${tag} out of bounds`);
    const stored = woff.subarray(offset, offset + compressed);
    const data = compressed < original ? inflateSync(stored, { maxOutputLength: original }) : Buffer.from(stored);
    if (data.length !== original) fail(`table ${tag} inflates to ${data.length} bytes, not ${original}`);
    tables.push({ tag, checksum: woff.readUInt32BE(at + 16), data });
  }
  return sfnt(flavor, tables);
}

function sfnt(flavor: number, tables: readonly Table[]): Buffer {
  const sorted = [...tables].sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
  const count = sorted.length;
  const power = 2 ** Math.floor(Math.log2(count));
  const header = Buffer.alloc(12 + 16 * count);
  header.writeUInt32BE(flavor, 0);
  header.writeUInt16BE(count, 4);
  header.writeUInt16BE(power * 16, 6);
  header.writeUInt16BE(Math.log2(power), 8);
  header.writeUInt16BE(count * 16 - power * 16, 10);
  const parts: Buffer[] = [header];
  let offset = header.length;
  for (const [i, table] of sorted.entries()) {
    const record = 12 + 16 * i;
    header.write(table.tag, record, 4, 'latin1');
    header.writeUInt32BE(table.checksum, record + 4);
    header.writeUInt32BE(offset, record + 8);
    header.writeUInt32BE(table.data.length, record + 12);
    const padding = (4 - (table.data.length % 4)) % 4;
    parts.push(table.data, Buffer.alloc(padding));
    offset += table.data.length + padding;
  }
  return Buffer.concat(parts, offset);
}
