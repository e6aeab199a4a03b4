/**
 * The parameters an answer reports about its images (size, quality, background, output_format):
 * the upstream's word, else what the job asked, else the model's default (its capabilities). One
 * function for every answer, so JSON answers and stream events never disagree:
 * - `known` (JSON answers): only what is known; a value the job left to the model (`auto`) is left out;
 * - `complete` (stream events, whose fields the spec requires): every field, `auto` included.
 * An output format the client asked for is what it gets (output/ converts when the upstream
 * ignored it), so it wins over the upstream's word. Pure.
 */
import type { ImageJob } from './job.js';

export interface OutputParameters {
  readonly size?: string;
  readonly quality?: string;
  readonly background?: string;
  readonly outputFormat?: string;
}

export type ParameterMode = 'known' | 'complete';

export function resolveParameters(job: ImageJob, reported: OutputParameters, mode: ParameterMode): OutputParameters {
  const capabilities = job.model.capabilities;
  const asked = (value: string | undefined): string | undefined => (mode === 'complete' || value !== 'auto' ? value : undefined);
  // A relay object (not an enum value) says nothing an answer can report.
  const background = typeof job.background === 'string' ? job.background : undefined;
  const size = reported.size ?? asked(job.size);
  // A model without quality levels (Recraft's) has none to report: its job's is only a price column.
  const quality = reported.quality ?? (capabilities.qualities.length > 0 ? asked(job.quality) : undefined);
  const shownBackground = reported.background ?? asked(background ?? capabilities.defaultBackground);
  const outputFormat = job.outputFormat ?? reported.outputFormat ?? capabilities.defaultOutputFormat;
  return {
    ...(size !== undefined ? { size } : {}),
    ...(quality !== undefined ? { quality } : {}),
    ...(shownBackground !== undefined ? { background: shownBackground } : {}),
    ...(outputFormat !== undefined ? { outputFormat } : {}),
  };
}
