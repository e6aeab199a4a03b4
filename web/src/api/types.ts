/** The answers the console reads, as docs/api.md documents them (only the fields it uses). */

export interface ListAnswer<T> {
  data: T[];
  has_more?: boolean;
  /** The lists that page by cursor: where the next page starts (give it back as `after`). */
  next_cursor?: string | null;
}

export interface ModelSummary {
  id: string;
  owned_by: string;
  description: string;
}

export interface InputRules {
  max_images: number;
  max_bytes: number;
  formats: string[];
  max_side: number | null;
  max_pixels: number | null;
  square: boolean;
}

/** GET /v1/models/{model}: `capabilities`, the rules the gateway judges a request by. */
export interface ModelCapabilities {
  family: string;
  sizes: string[];
  custom_sizes: false | { edge_multiple: number; max_edge: number; max_aspect: number; min_pixels: number; max_pixels: number };
  default_size: string;
  qualities: string[];
  default_quality: string;
  max_n: number;
  max_prompt_chars: number;
  output_formats: string[];
  default_output_format: string | null;
  output_compression: boolean;
  backgrounds: string[];
  moderations: string[];
  styles: string[] | null;
  streaming: false | { max_partial_images: number };
  edits: false | InputRules;
  input_fidelity: boolean;
  variations: false | InputRules;
}

export interface ModelDetail extends ModelSummary {
  capabilities: ModelCapabilities;
}

export interface ImageDatum {
  url?: string;
  b64_json?: string;
  revised_prompt?: string;
}

export interface ImagesResponse {
  created: number;
  data: ImageDatum[];
  output_format?: string;
}

/** GET /v1/dashboard/billing/subscription: the key's own credit. */
export interface Subscription {
  hard_limit_usd: number;
  balance_usd?: number;
  access_until?: number | null;
}

/** new-api's async mode: the answer to a submission, and GET /v1/images/tasks/{id}. */
export interface NewApiSubmitAnswer {
  code: string;
  data: { task_id: string; status: string };
}

/** GET /v1/images/tasks/{id} answers `{code, message, data: NewApiTask}`. */
export interface NewApiTaskAnswer {
  code: string;
  data: NewApiTask;
}

export interface NewApiTask {
  task_id: string;
  status: 'submitted' | 'queued' | 'in_progress' | 'succeeded' | 'failed' | string;
  progress?: string;
  fail_reason?: string | null;
  image_urls?: string[];
  data?: { url?: string }[];
}
