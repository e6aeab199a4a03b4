/**
 * Which Stability endpoint each catalogue family speaks (core/catalogue/stability.ts), and its
 * form (parameters.ts). The channel's base_url is Stability's origin, https://api.stability.ai.
 */
import type { ModelFamily } from '../../core/models.js';
import type { ParameterMap } from '../parameter-map.js';
import { STABILITY_CORE, STABILITY_INPAINT, STABILITY_SD3, STABILITY_SEARCH_AND_REPLACE, STABILITY_ULTRA } from './parameters.js';

export interface StabilityEndpoint {
  readonly path: string;
  readonly form: ParameterMap;
  /** An editing service: a job without its input image is refused before any call. */
  readonly needsInputImage: boolean;
}

const ENDPOINTS: Partial<Readonly<Record<ModelFamily, StabilityEndpoint>>> = {
  'stable-image-ultra': { path: '/v2beta/stable-image/generate/ultra', form: STABILITY_ULTRA, needsInputImage: false },
  'stable-image-core': { path: '/v2beta/stable-image/generate/core', form: STABILITY_CORE, needsInputImage: false },
  'sd3.5': { path: '/v2beta/stable-image/generate/sd3', form: STABILITY_SD3, needsInputImage: false },
  'stable-image-inpaint': { path: '/v2beta/stable-image/edit/inpaint', form: STABILITY_INPAINT, needsInputImage: true },
  'stable-image-search-and-replace': { path: '/v2beta/stable-image/edit/search-and-replace', form: STABILITY_SEARCH_AND_REPLACE, needsInputImage: true },
};

/** The endpoint of a model's family; undefined: not a Stability family (a stability channel does not take it). */
export function stabilityEndpointOf(family: ModelFamily): StabilityEndpoint | undefined {
  return ENDPOINTS[family];
}

export function stabilityUrl(baseUrl: string, path: string): string {
  return `${baseUrl.replace(/\/+$/, '')}${path}`;
}
