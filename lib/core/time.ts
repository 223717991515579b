// Times travel as UTC 'YYYY-MM-DD HH:MM:SS' text through both stores: DATETIME on MySQL
// carries no zone, so the text is the same whatever the server's or process's time zone,
// and it sorts as it reads.

const two = (n: number) => (n < 10 ? `0${n}` : `${n}`);

/**
 * Date → 'YYYY-MM-DD HH:MM:SS' (UTC), years 1000–9999. From the UTC getters, not
 * toISOString(): V8's toISOString looks up the local time zone first, and ICU's first
 * look-up (reading /etc/localtime and its zone data) costs a CGI run ~0.5 ms.
 */
export function sqlTime(date: Date): string {
  return `${date.getUTCFullYear()}-${two(date.getUTCMonth() + 1)}-${two(date.getUTCDate())} ${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}`;
}

/** '2026-01-02 03:04:05' → '2026-01-02T03:04:05Z' */
export function isoTime(sql: string): string {
  return sql.replace(' ', 'T') + 'Z';
}

const ACCEPTED = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/;

/** Parses an ISO-8601 date or date-time (no zone means UTC) into SQL text; null if it is not one. */
export function parseTime(text: string): string | null {
  const m = ACCEPTED.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h = '00', mi = '00', s = '00', zone] = m;
  const offset = !zone || zone === 'Z' ? 'Z' : zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone;
  const date = new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}${offset}`);
  if (Number.isNaN(date.getTime())) return null;
  // Reject dates that Date silently rolled over (2026-02-30) when no zone moved them.
  if (offset === 'Z' && sqlTime(date) !== `${y}-${mo}-${d} ${h}:${mi}:${s}`) return null;
  if (date.getUTCFullYear() < 1000 || date.getUTCFullYear() > 9999) return null;
  return sqlTime(date);
}

/**
 * Milliseconds since the process started. Not performance.now(): the `performance` global
 * loads perf_hooks on first use, ~2 ms that a CGI run would pay for a clock.
 */
export function msSinceStart(): number {
  return process.uptime() * 1000;
}
