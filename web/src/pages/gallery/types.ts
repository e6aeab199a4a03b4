/** The gallery's answers (docs/api.md, "The gallery"): only the fields the console reads. */

export interface GalleryImage {
  id: string;
  /** null: an image the content check refused (kept for review, never linked). */
  url: string | null;
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
  /** Content review (docs/api.md, "Content safety"); null: not flagged. */
  review?: 'flagged' | 'refused' | 'approved' | null;
  /** The content check's score per class; null: not checked. */
  safety_scores?: Record<string, number> | null;
}

/** The list filters both galleries share (`key` only in the admin's). */
export interface ImageFilters {
  key?: string;
  model?: string;
  task?: string;
  from?: string;
  to?: string;
  /** The admin's content review: flagged, refused, approved, or any of them. */
  review?: string;
}
