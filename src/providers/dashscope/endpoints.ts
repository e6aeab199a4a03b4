/**
 * Which DashScope API each catalogue family speaks (Model Studio's Qwen-Image, Qwen-Image Edit and
 * Wan text-to-image API references), and how many images one of its calls makes:
 * - `multimodal`: `POST /api/v1/services/aigc/multimodal-generation/generation`, synchronous:
 *   `input.messages[0].content[]` holds `{image}` parts then one `{text}`, the answer's
 *   `output.choices[].message.content[].image` are the images' URLs. Qwen-Image and Qwen-Image Edit.
 * - `text2image`: `POST /api/v1/services/aigc/text2image/image-synthesis` with
 *   `X-DashScope-Async: enable`, asynchronous: `output.task_id`, then `GET /api/v1/tasks/{id}` until
 *   it ends, `output.results[].url`. Wan text-to-image.
 * - `image2image`: `POST /api/v1/services/aigc/image2image/image-synthesis`, the same task flow:
 *   Wan's image editor, `input.function` `description_edit` (from the prompt) or
 *   `description_edit_with_mask` (inpainting: the mask's white is what changes).
 */
import type { ModelFamily } from '../../core/models.js';

export type DashScopeApi = 'multimodal' | 'text2image' | 'image2image';

export interface DashScopeEndpoint {
  readonly api: DashScopeApi;
  /** The most images one call makes (DashScope's `n` range); a job asking more is several calls (sync only). */
  readonly maxNPerCall: number;
  /** Its calls take input images (Qwen-Image Edit): a job without one is refused. */
  readonly needsInputImage: boolean;
}

const ENDPOINTS: Partial<Readonly<Record<ModelFamily, DashScopeEndpoint>>> = {
  'qwen-image': { api: 'multimodal', maxNPerCall: 1, needsInputImage: false },
  'qwen-image-edit': { api: 'multimodal', maxNPerCall: 1, needsInputImage: true },
  'qwen-image-edit-plus': { api: 'multimodal', maxNPerCall: 6, needsInputImage: true },
  'wan-t2i': { api: 'text2image', maxNPerCall: 4, needsInputImage: false },
  'wan2.5-t2i': { api: 'text2image', maxNPerCall: 4, needsInputImage: false },
  'wanx-imageedit': { api: 'image2image', maxNPerCall: 4, needsInputImage: true },
};

/** The endpoint of a model's family; undefined: not a DashScope family (a dashscope channel does not take it). */
export function endpointOf(family: ModelFamily): DashScopeEndpoint | undefined {
  return ENDPOINTS[family];
}

export const MULTIMODAL_PATH = '/api/v1/services/aigc/multimodal-generation/generation';
export const TEXT2IMAGE_PATH = '/api/v1/services/aigc/text2image/image-synthesis';
export const IMAGE2IMAGE_PATH = '/api/v1/services/aigc/image2image/image-synthesis';
export const TASKS_PATH = '/api/v1/tasks';

/** The channel's base_url is the region's origin (https://dashscope-intl.aliyuncs.com, https://dashscope.aliyuncs.com). */
export function dashscopeUrl(baseUrl: string, path: string): string {
  return `${baseUrl.replace(/\/+$/, '')}${path}`;
}
