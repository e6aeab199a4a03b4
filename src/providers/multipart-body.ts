/**
 * multipart/form-data encoding for upstream calls: the framing as small Buffers around each
 * file's bytes, streamed from memory or from its spool file (upstream-body.ts), with the exact
 * length known before the first byte is sent, so retries can send it again.
 */
import { randomBytes } from 'node:crypto';
import type { InputBytes } from '../core/input-bytes.js';
import { StreamedBody, type BodySegment } from './upstream-body.js';

export interface FilePart {
  bytes: InputBytes;
  filename: string;
  contentType: string;
}

export type FormValue = string | FilePart;

export interface EncodedForm {
  body: StreamedBody;
  contentType: string;
}

export function encodeMultipart(entries: readonly (readonly [string, FormValue])[]): EncodedForm {
  const boundary = `----imagegate${randomBytes(12).toString('hex')}`;
  const segments: BodySegment[] = [];
  // Text fields are joined into one piece up to the next file.
  let text = '';
  for (const [name, value] of entries) {
    const disposition = `Content-Disposition: form-data; name="${escapeQuoted(name)}"`;
    if (typeof value === 'string') {
      text += `--${boundary}\r\n${disposition}\r\n\r\n${value}\r\n`;
    } else {
      text += `--${boundary}\r\n${disposition}; filename="${escapeQuoted(value.filename)}"\r\nContent-Type: ${value.contentType}\r\n\r\n`;
      segments.push(Buffer.from(text, 'utf8'), { input: value.bytes, encoding: 'raw' });
      text = '\r\n';
    }
  }
  segments.push(Buffer.from(`${text}--${boundary}--\r\n`, 'utf8'));
  return { body: new StreamedBody(segments), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** A JSON body's scalar fields as form text: numbers and booleans as written, objects as JSON. */
export function formText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Quotes and line breaks would end the header early (WHATWG form encoding percent-escapes them). */
function escapeQuoted(text: string): string {
  return text.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}
