import type { OutputFormat } from '../core/job.js';

/**
 * The format an upstream says an image it answered is in, by a name it gives: a file extension or
 * a media subtype (`jpg`, `jpeg`, `png`, `webp`, any case); undefined for any other name.
 */
export function answeredFormat(name: string | undefined): Exclude<OutputFormat, 'svg'> | undefined {
  const format = name?.toLowerCase();
  return format === 'jpg' || format === 'jpeg' ? 'jpeg' : format === 'png' || format === 'webp' ? format : undefined;
}
