/** multipart/form-data encoding for upstream calls: one Buffer, so retries can resend it. */
import { randomBytes } from 'node:crypto';

export interface FilePart {
  bytes: Buffer;
  filename: string;
  contentType: string;
}

export type FormValue = string | FilePart;

export interface EncodedForm {
  body: Buffer;
  contentType: string;
}

export function encodeMultipart(entries: readonly (readonly [string, FormValue])[]): EncodedForm {
  const boundary = `----imagegate${randomBytes(12).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const [name, value] of entries) {
    const disposition = `Content-Disposition: form-data; name="${escapeQuoted(name)}"`;
    if (typeof value === 'string') {
      chunks.push(Buffer.from(`--${boundary}\r\n${disposition}\r\n\r\n${value}\r\n`, 'utf8'));
    } else {
      const head = `--${boundary}\r\n${disposition}; filename="${escapeQuoted(value.filename)}"\r\nContent-Type: ${value.contentType}\r\n\r\n`;
      chunks.push(Buffer.from(head, 'utf8'), value.bytes, Buffer.from('\r\n'));
    }
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** A JSON body's scalar fields as form text: numbers and booleans as written, objects as JSON. */
export function formText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Quotes and line breaks would end the header early (WHATWG form encoding percent-escapes them). */
function escapeQuoted(text: string): string {
  return text.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}
