// One rating as the rater hands it in (import rows, `adrater rating`), checked and
// canonicalised exactly like a look-up's site key.
import { siteKey } from '../core/site.js';
import { parseTime } from '../core/time.js';
import type { RatingRow } from '../store/store.js';

export interface RatingInput {
  domain?: unknown;
  rating?: unknown;
  info?: unknown;
  rated_at?: unknown;
  expires_at?: unknown;
}

const MAX_RATING = 16;
const MAX_INFO = 1024;

function text(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return null;
}

/** A row ready to store, or the reason it is refused. */
export function ratingRow(input: RatingInput): RatingRow | string {
  const domainText = text(input.domain)?.trim() ?? '';
  if (domainText === '') return 'missing domain';
  const key = siteKey(domainText);
  if (!('domain' in key)) return `invalid site "${domainText.slice(0, 80)}": ${key.reason}`;
  const rating = text(input.rating)?.trim() ?? '';
  if (rating === '') return 'missing rating';
  if ([...rating].length > MAX_RATING) return `rating over ${MAX_RATING} characters`;
  const info = text(input.info) ?? '';
  if ([...info].length > MAX_INFO) return `info over ${MAX_INFO} characters`;
  const ratedText = text(input.rated_at)?.trim() ?? '';
  if (ratedText === '') return 'missing rated_at';
  const ratedAt = parseTime(ratedText);
  if (!ratedAt) return `unknown date in rated_at: "${ratedText.slice(0, 40)}"`;
  const expiresText = text(input.expires_at)?.trim() ?? '';
  const expiresAt = expiresText === '' ? null : parseTime(expiresText);
  if (expiresText !== '' && !expiresAt) return `unknown date in expires_at: "${expiresText.slice(0, 40)}"`;
  return { domain: key.domain, rating, info: info === '' ? null : info, ratedAt, expiresAt };
}
