/** The gallery's answers (docs/api.md, "The gallery"): only the fields the console reads. */

export interface GalleryImage {
  id: string;
  url: string;
  thumbnail_url: string;
  mime: string;
  bytes: number;
  width: number | null;
  height: number | null;
  created_at: string;
  expires_at: string;
  expires_in_s: number;
  key_id: string | null;
  model: string | null;
  request_id: string;
  task_id: string | null;
  operation: 'generations' | 'edits' | 'variations' | null;
  prompt: string | null;
  params: Record<string, unknown>;
}

/** The list filters both galleries share (`key` only in the admin's). */
export interface ImageFilters {
  key?: string;
  model?: string;
  task?: string;
  from?: string;
  to?: string;
}
