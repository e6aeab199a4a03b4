/**
 * The content-safety policy's pure rules (core/safety-policy.ts): parsing (defaults, bounds, a bad
 * regex refused when set), how a key's and a channel's policy combine (the stricter wins), what a
 * caller's nsfw_checker adds, and the verdicts on prompts and scores. Scores here are made-up
 * numbers; the classifier itself runs in test/content-safety.e2e.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { SafetyScores } from '../src/core/image-safety.js';
import {
  DEFAULT_THRESHOLDS,
  effectivePolicy,
  MAX_BLOCKED_TERMS,
  parseSafetyPolicy,
  promptMatch,
  promptRefusalReason,
  safetyPolicyToRaw,
  SafetyPolicyError,
  stricterPolicy,
  trippedClasses,
} from '../src/core/safety-policy.js';

const scores = (s: Partial<SafetyScores>): SafetyScores => ({ drawing: 0, hentai: 0, neutral: 0, porn: 0, sexy: 0, ...s });

function refusal(raw: unknown): SafetyPolicyError {
  try {
    parseSafetyPolicy(raw);
  } catch (err) {
    if (err instanceof SafetyPolicyError) return err;
    throw err;
  }
  throw new Error('the policy was accepted');
}

describe('parseSafetyPolicy', () => {
  it('a mode alone takes the documented defaults: porn 0.7, hentai 0.7, sexy 0.9; drawing and neutral never trip', () => {
    const policy = parseSafetyPolicy({ mode: 'block' });
    expect(policy).toMatchObject({ mode: 'block', thresholds: { porn: 0.7, hentai: 0.7, sexy: 0.9 }, blocklist: [] });
    expect(DEFAULT_THRESHOLDS).toEqual({ porn: 0.7, hentai: 0.7, sexy: 0.9 });
  });

  it('thresholds are laid over the defaults; null removes a class', () => {
    expect(parseSafetyPolicy({ mode: 'flag', thresholds: { porn: 0.5, neutral: 0, sexy: null } }).thresholds).toEqual({ porn: 0.5, hentai: 0.7, neutral: 0 });
  });

  it('refuses, naming the part: an unknown mode, class or field, a score outside 0-1, a bad regex, too many or too long terms', () => {
    expect(refusal({ mode: 'strict' }).field).toBe('safety.mode');
    expect(refusal({ mode: 'block', thresholds: { violence: 0.5 } }).field).toBe('safety.thresholds.violence');
    expect(refusal({ mode: 'block', thresholds: { porn: 1.5 } }).field).toBe('safety.thresholds.porn');
    expect(refusal({ mode: 'block', thresholds: { porn: '0.5' } }).field).toBe('safety.thresholds.porn');
    expect(refusal({ mode: 'block', extra: 1 }).field).toBe('safety.extra');
    const badRegex = refusal({ mode: 'block', blocklist: ['fine', '/a(b/'] });
    expect(badRegex.field).toBe('safety.blocklist[1]');
    expect(badRegex.message).toMatch(/not a valid regular expression/);
    // Nested repetition backtracks exponentially on a long prompt, on the event loop: refused when set.
    for (const pattern of ['/(a+)+$/', '/(\\w+\\s?)*$/', '/(.*a){20}/']) {
      const catastrophic = refusal({ mode: 'block', blocklist: [pattern] });
      expect(catastrophic.field, pattern).toBe('safety.blocklist[0]');
      expect(catastrophic.message, pattern).toMatch(/backtrack catastrophically/);
    }
    expect(parseSafetyPolicy({ mode: 'block', blocklist: ['/bl(o|0)+d/', '/[a-z]+@[a-z]+\\.com/'] }).blocklist).toHaveLength(2);
    // Read back from the database, a pattern set before this check is kept, not a failure of every request.
    expect(parseSafetyPolicy({ mode: 'block', blocklist: ['/(a+)+$/'] }, 'safety', { stored: true }).blocklist).toHaveLength(1);
    expect(refusal({ mode: 'block', blocklist: Array.from({ length: MAX_BLOCKED_TERMS + 1 }, (_, i) => `w${i}`) }).field).toBe('safety.blocklist');
    expect(refusal({ mode: 'block', blocklist: ['x'.repeat(201)] }).field).toBe('safety.blocklist[0]');
    expect(refusal({ mode: 'block', blocklist: [''] }).field).toBe('safety.blocklist[0]');
    expect(refusal('block').field).toBe('safety');
  });

  it('reads back what it writes (stored rows, admin answers)', () => {
    const policy = parseSafetyPolicy({ mode: 'flag', thresholds: { porn: 0.4 }, blocklist: ['Gore', '/bl(o|0)od/'] });
    expect(parseSafetyPolicy(safetyPolicyToRaw(policy))).toEqual(policy);
  });
});

describe('the prompt blocklist', () => {
  const policy = parseSafetyPolicy({ mode: 'block', blocklist: ['gore', 'Mord', '/bl(o|0)od/'] });

  it('words match whole and case-insensitively, in any script; /patterns/ as regular expressions, case-insensitively', () => {
    expect(promptMatch(policy, 'A GORE scene')).toBe('word');
    expect(promptMatch(policy, 'gorey')).toBeNull();
    expect(promptMatch(policy, 'Gorge')).toBeNull();
    expect(promptMatch(policy, 'ein mord.')).toBe('word');
    expect(promptMatch(policy, 'BL0OD moon')).toBe('pattern');
    expect(promptMatch(policy, 'a calm lake')).toBeNull();
  });

  it('is not checked while the mode is off; the refusal names the kind of term, never the list', () => {
    expect(promptMatch({ ...policy, mode: 'off' }, 'gore')).toBeNull();
    expect(promptMatch(null, 'gore')).toBeNull();
    expect(promptRefusalReason('word')).not.toMatch(/gore/);
    expect(promptRefusalReason('pattern')).toMatch(/blocked phrase/);
  });
});

describe('combining: the stricter wins', () => {
  const key = parseSafetyPolicy({ mode: 'flag', thresholds: { porn: 0.9, sexy: null }, blocklist: ['a'] });
  const channel = parseSafetyPolicy({ mode: 'block', thresholds: { porn: 0.95, hentai: 0.5 }, blocklist: ['b', 'a'] });

  it('the stricter mode, the lower threshold per class, both blocklists', () => {
    const both = stricterPolicy(key, channel);
    expect(both?.mode).toBe('block');
    expect(both?.thresholds).toEqual({ porn: 0.9, hentai: 0.5, sexy: 0.9 });
    expect(both?.blocklist.map((t) => t.source)).toEqual(['a', 'b']);
    expect(stricterPolicy(key, null)).toBe(key);
    expect(stricterPolicy(null, null)).toBeNull();
  });

  it("a caller's nsfw_checker raises the mode to block, keeping the policy's thresholds; never lowers it", () => {
    expect(effectivePolicy({ key: null, checkerAsked: false })).toBeNull();
    expect(effectivePolicy({ key: null, checkerAsked: true })).toMatchObject({ mode: 'block', thresholds: DEFAULT_THRESHOLDS });
    expect(effectivePolicy({ key, checkerAsked: true })).toMatchObject({ mode: 'block', thresholds: { porn: 0.9, hentai: 0.7 } });
    expect(effectivePolicy({ key: parseSafetyPolicy({ mode: 'off' }), checkerAsked: false })).toBeNull();
    expect(effectivePolicy({ key: null, channel, checkerAsked: false })?.mode).toBe('block');
  });
});

describe('verdicts on scores', () => {
  const policy = parseSafetyPolicy({ mode: 'block' });

  it('an ordinary picture passes the defaults; explicit scores trip, highest first; a threshold of 0 always trips', () => {
    expect(trippedClasses(policy, scores({ neutral: 0.8, drawing: 0.15, hentai: 0.05 }))).toEqual([]);
    expect(trippedClasses(policy, scores({ porn: 0.75, hentai: 0.2 }))).toEqual(['porn']);
    expect(trippedClasses(policy, scores({ porn: 0.7, sexy: 0.95 }))).toEqual(['sexy', 'porn']);
    expect(trippedClasses(parseSafetyPolicy({ mode: 'block', thresholds: { neutral: 0 } }), scores({ drawing: 1 }))).toEqual(['neutral']);
  });
});
