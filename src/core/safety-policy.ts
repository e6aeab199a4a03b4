/**
 * The operator's content-safety policy, pure rules: what a policy may say (mode, per-class
 * thresholds, a prompt blocklist), how a key's and a channel's combine (the stricter wins), what a
 * caller's `nsfw_checker: true` adds, and the verdicts on a prompt and on an image's scores.
 * Where policies are kept (a key's row, a channel's definition, the env default) is elsewhere; the
 * scores come from src/safety/ through core/image-safety.ts.
 */
import safeRegex from 'safe-regex2';
import { SAFETY_CLASSES, type SafetyClass, type SafetyScores } from './image-safety.js';

/** off: nothing checked. flag: images delivered, those that trip kept for review. block: refused (400), kept for review. */
export const SAFETY_MODES = ['off', 'flag', 'block'] as const;
export type SafetyMode = (typeof SAFETY_MODES)[number];

/** A class trips when its score is at or above its threshold; a class without one never trips. */
export type SafetyThresholds = Readonly<Partial<Record<SafetyClass, number>>>;

/**
 * nsfwjs's explicit classes at 0.7: the model's own top-1 for explicit imagery scores well above it,
 * while an ordinary picture spreads at most a few tenths over them. `sexy` (suggestive, not
 * explicit: swimwear, fashion) at 0.9: only a confident call, since the class is wide. drawing and
 * neutral never trip unless a policy sets them.
 */
export const DEFAULT_THRESHOLDS: SafetyThresholds = { porn: 0.7, hentai: 0.7, sexy: 0.9 };

/** A prompt term: a word (whole word, case-insensitive) or a /pattern/ (a regular expression, case-insensitive). */
export interface BlockedTerm {
  readonly kind: 'word' | 'pattern';
  /** As the operator wrote it (`word`, `/pat+ern/`). */
  readonly source: string;
  readonly regex: RegExp;
}

export interface SafetyPolicy {
  readonly mode: SafetyMode;
  readonly thresholds: SafetyThresholds;
  readonly blocklist: readonly BlockedTerm[];
}

/** Bounds on what a policy may hold, so checking a prompt stays cheap. */
export const MAX_BLOCKED_TERMS = 500;
export const MAX_TERM_LENGTH = 200;

/** The policy of a caller who asked for `nsfw_checker: true` where nothing else is set: block at the defaults. */
export const CHECKER_POLICY: SafetyPolicy = { mode: 'block', thresholds: DEFAULT_THRESHOLDS, blocklist: [] };

/** A policy that cannot be parsed; `field` names the part at fault (`safety.thresholds.porn`). */
export class SafetyPolicyError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'SafetyPolicyError';
  }
}

type Raw = Record<string, unknown>;

/**
 * A policy as operators write it (admin API, YAML, env): `{ mode, thresholds?, blocklist? }`.
 * Thresholds are laid over DEFAULT_THRESHOLDS (null removes a class); a bad regex is refused here,
 * never at a request. `stored`: a policy read back from the database, checked when it was set (a
 * pattern an older version let through is kept, not made a failure of every request of its key).
 */
export function parseSafetyPolicy(raw: unknown, field = 'safety', options: { stored?: boolean } = {}): SafetyPolicy {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new SafetyPolicyError(field, `${field} must be an object (mode, thresholds, blocklist)`);
  const body = raw as Raw;
  const unknown = Object.keys(body).find((k) => !['mode', 'thresholds', 'blocklist'].includes(k));
  if (unknown) throw new SafetyPolicyError(`${field}.${unknown}`, `${field}.${unknown} is not a policy field (mode, thresholds, blocklist)`);
  return {
    mode: parseMode(body.mode, `${field}.mode`),
    thresholds: parseThresholds(body.thresholds, `${field}.thresholds`),
    blocklist: parseBlocklist(body.blocklist, `${field}.blocklist`, options),
  };
}

export function parseMode(value: unknown, field: string): SafetyMode {
  if (typeof value !== 'string' || !(SAFETY_MODES as readonly string[]).includes(value))
    throw new SafetyPolicyError(field, `${field} must be one of ${SAFETY_MODES.join(', ')}`);
  return value as SafetyMode;
}

export function parseThresholds(value: unknown, field: string): SafetyThresholds {
  if (value === undefined || value === null) return DEFAULT_THRESHOLDS;
  if (typeof value !== 'object' || Array.isArray(value))
    throw new SafetyPolicyError(field, `${field} must map classes (${SAFETY_CLASSES.join(', ')}) to scores from 0 to 1`);
  const out: Partial<Record<SafetyClass, number>> = { ...DEFAULT_THRESHOLDS };
  for (const [name, score] of Object.entries(value as Raw)) {
    if (!(SAFETY_CLASSES as readonly string[]).includes(name))
      throw new SafetyPolicyError(`${field}.${name}`, `${field}.${name}: the classes are ${SAFETY_CLASSES.join(', ')}`);
    const cls = name as SafetyClass;
    if (score === null) {
      delete out[cls];
      continue;
    }
    if (typeof score !== 'number' || !Number.isFinite(score) || score < 0 || score > 1) {
      throw new SafetyPolicyError(`${field}.${name}`, `${field}.${name} must be a score from 0 to 1 (or null: never trips)`);
    }
    out[cls] = score;
  }
  return out;
}

/** Words and `/pattern/flags` entries, at most MAX_BLOCKED_TERMS of at most MAX_TERM_LENGTH characters. */
export function parseBlocklist(value: unknown, field: string, options: { stored?: boolean } = {}): BlockedTerm[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new SafetyPolicyError(field, `${field} must be a list of words and /patterns/`);
  if (value.length > MAX_BLOCKED_TERMS) throw new SafetyPolicyError(field, `${field} holds ${value.length} terms; at most ${MAX_BLOCKED_TERMS} are taken`);
  const terms = value.map((entry, i) => parseTerm(entry, `${field}[${i}]`, options.stored === true));
  const seen = new Set<string>();
  return terms.filter((t) => !seen.has(t.source) && seen.add(t.source));
}

const PATTERN = /^\/(.+)\/([imsu]*)$/s;

/**
 * A pattern is tried against every prompt on the event loop, where one that backtracks
 * catastrophically ((a+)+, (x|x)*) would stall the whole gateway on a long prompt: patterns with
 * nested repetition are refused (safe-regex2's star-height check, the one Fastify's router applies
 * to route patterns).
 */
const STAR_HEIGHT_LIMIT = 25;

function parseTerm(entry: unknown, field: string, stored: boolean): BlockedTerm {
  if (typeof entry !== 'string' || entry.trim().length === 0 || entry.length > MAX_TERM_LENGTH) {
    throw new SafetyPolicyError(field, `${field} must be a non-empty string of at most ${MAX_TERM_LENGTH} characters`);
  }
  const source = entry.trim();
  const pattern = PATTERN.exec(source);
  if (pattern) {
    const flags = new Set([...(pattern[2] ?? ''), 'i']);
    let regex: RegExp;
    try {
      regex = new RegExp(pattern[1] ?? '', [...flags].join(''));
    } catch (err) {
      throw new SafetyPolicyError(field, `${field} is not a valid regular expression: ${(err as Error).message}`);
    }
    if (!stored && !safeRegex(regex, { limit: STAR_HEIGHT_LIMIT }))
      throw new SafetyPolicyError(
        field,
        `${field} could backtrack catastrophically (a repeated group that itself repeats, e.g. (a+)+): write it without nested repetition`,
      );
    return { kind: 'pattern', source, regex };
  }
  // A whole word: not part of a longer word (letters or digits either side), in any script.
  const escaped = source.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  return { kind: 'word', source, regex: new RegExp(`(?<![\\p{L}\\p{N}])${escaped}(?![\\p{L}\\p{N}])`, 'iu') };
}

/** The snake_case form (admin answers, stored rows): what parseSafetyPolicy reads back. */
export function safetyPolicyToRaw(policy: SafetyPolicy): { mode: SafetyMode; thresholds: SafetyThresholds; blocklist: string[] } {
  return { mode: policy.mode, thresholds: { ...policy.thresholds }, blocklist: policy.blocklist.map((t) => t.source) };
}

const MODE_RANK: Readonly<Record<SafetyMode, number>> = { off: 0, flag: 1, block: 2 };

/**
 * The stricter of two policies, class by class: the stricter mode, the lower threshold of each
 * class (a class either sets), and both blocklists. Unset (null) policies add nothing.
 */
export function stricterPolicy(a: SafetyPolicy | null, b: SafetyPolicy | null): SafetyPolicy | null {
  if (!a || !b) return a ?? b;
  const thresholds: Partial<Record<SafetyClass, number>> = {};
  for (const cls of SAFETY_CLASSES) {
    const values = [a.thresholds[cls], b.thresholds[cls]].filter((v): v is number => v !== undefined);
    if (values.length > 0) thresholds[cls] = Math.min(...values);
  }
  const seen = new Set(a.blocklist.map((t) => t.source));
  return {
    mode: MODE_RANK[a.mode] >= MODE_RANK[b.mode] ? a.mode : b.mode,
    thresholds,
    blocklist: [...a.blocklist, ...b.blocklist.filter((t) => !seen.has(t.source))],
  };
}

/**
 * What applies to one run: the key's policy (or, for a key without one, the operator's default)
 * and the channel's, the stricter winning; a caller's `nsfw_checker: true` raises the mode to
 * block (never lowers it). Null: nothing to check.
 */
export function effectivePolicy(parts: { key: SafetyPolicy | null; channel?: SafetyPolicy | null; checkerAsked: boolean }): SafetyPolicy | null {
  const combined = stricterPolicy(parts.key, parts.channel ?? null);
  const asked = parts.checkerAsked ? stricterPolicy(combined, { ...CHECKER_POLICY, thresholds: combined?.thresholds ?? DEFAULT_THRESHOLDS }) : combined;
  return asked && asked.mode !== 'off' ? asked : null;
}

/** The caller's own switch, in every dialect: the body field `nsfw_checker: true` (a passthrough field of the job). */
export function checkerAsked(passthrough: Readonly<Record<string, unknown>>): boolean {
  return passthrough.nsfw_checker === true;
}

/** Which kind of term a prompt matched: all a refusal may say of the list. */
export type PromptMatch = BlockedTerm['kind'];

/** The first blocked term the prompt holds (null: none), when the policy is on. */
export function promptMatch(policy: SafetyPolicy | null, prompt: string): PromptMatch | null {
  if (!policy || policy.mode === 'off') return null;
  for (const term of policy.blocklist) if (term.regex.test(prompt)) return term.kind;
  return null;
}

/**
 * The words a prompt refusal says: which class of term matched, nothing of the list itself. Both
 * reasons begin "Content policy violation", the words the task API's failMsg promises.
 */
export function promptRefusalReason(match: PromptMatch): string {
  return `Content policy violation: the prompt contains a ${match === 'word' ? 'blocked word' : 'blocked phrase'} under this service's content policy.`;
}

/** The image refusal's reason: which classes tripped, never the thresholds. */
export function imageRefusalReason(tripped: readonly SafetyClass[]): string {
  return `Content policy violation: the generated image was classified as ${tripped.join(', ')} under this service's content policy.`;
}

/** The classes whose scores reach their thresholds, highest score first. */
export function trippedClasses(policy: SafetyPolicy, scores: SafetyScores): SafetyClass[] {
  return SAFETY_CLASSES.filter((cls) => {
    const threshold = policy.thresholds[cls];
    return threshold !== undefined && scores[cls] >= threshold;
  }).sort((a, b) => scores[b] - scores[a]);
}
