/**
 * What a Midjourney job has submitted so far, as the one upstream id a task stores (tasks/ keeps
 * a single `upstream_task_id`, written again each time hooks.onSubmitted reports it). A job is an
 * imagine, then (quality hd) one upscale per image; after a restart the provider polls what is
 * stored and submits only what is not:
 *
 *   split:2:1700000000123               the grid, split; the first 2 images
 *   hd:4:1700000000123:U1=1700000000456  the grid, then its upscales: U1 submitted, U2-U4 not yet
 *
 * Ids are URI-encoded, so a proxy's id can hold any character.
 */
import { UpstreamFailure } from '../../core/upstream-failure.js';

/** How the four images are made: the grid cut in four by the gateway, or Midjourney's upscales (U1-U4). */
export type ImageMode = 'split' | 'hd';

export interface MidjourneyJob {
  readonly mode: ImageMode;
  /** How many of the grid's four images the caller asked for (the first n). */
  readonly n: number;
  readonly imagineId: string;
  /** Upscale task ids by image index (1-4), as submitted. */
  readonly upscales: Readonly<Record<number, string>>;
}

export function encodeJob(job: MidjourneyJob): string {
  const upscales = Object.entries(job.upscales).map(([index, id]) => `U${index}=${encodeURIComponent(id)}`);
  return [job.mode, String(job.n), encodeURIComponent(job.imagineId), ...upscales].join(':');
}

export function decodeJob(stored: string): MidjourneyJob {
  const [mode, n, imagineId, ...rest] = stored.split(':');
  const count = Number(n);
  if ((mode !== 'split' && mode !== 'hd') || !Number.isInteger(count) || count < 1 || count > 4 || !imagineId) {
    throw new UpstreamFailure('protocol', `not a stored Midjourney job: ${stored}`);
  }
  const upscales: Record<number, string> = {};
  for (const part of rest) {
    const match = /^U([1-4])=(.+)$/.exec(part);
    if (!match) throw new UpstreamFailure('protocol', `not a stored Midjourney job: ${stored}`);
    upscales[Number(match[1])] = decodeURIComponent(match[2] ?? '');
  }
  return { mode, n: count, imagineId: decodeURIComponent(imagineId), upscales };
}
