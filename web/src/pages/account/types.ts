/** The self-service answers the Account page reads (/v1/account..., docs/accounts.md "Self-service"). */

export interface AccountView {
  id: string;
  name: string;
  prefix: string;
  /** USD; null: unlimited. */
  credits: number | null;
  enabled: boolean;
  expires_at: string | null;
  allowed_models: string[] | null;
  rpm: number | null;
  max_concurrent: number | null;
  created_at: string | null;
}

export interface UsageFigures {
  requests: number;
  succeeded: number;
  errors: number;
  images: number;
  spend: number;
}

export interface AccountUsage {
  totals: UsageFigures;
  by_day: (UsageFigures & { day: string })[];
  by_model: (UsageFigures & { model: string })[];
}

export interface AccountTask {
  id: string;
  model: string;
  state: string;
  action: string;
  image_urls: string[];
  fail_reason: string | null;
  created_at: string | null;
  finished_at: string | null;
}
