// The MySQL dialect's look-up and queue merge, for mysql2's store (lib/store/mysql.ts) and
// a CGI run's own client (lib/store/mysql-cgi.ts) alike.
import { MAX_REQUESTS } from './store.js';

// What every look-up selects, whatever it asks with. The times as the server writes them
// (what the text protocol of a CGI run's plain query carries anyway): a prepared look-up's
// binary rows otherwise have mysql2 rebuild each DATETIME's text from its parts, ~2.5 % of a
// responder's CPU with 10 URLs a request.
export const LOOKUP_COLUMNS = 'SELECT domain, rating, info, CAST(rated_at AS CHAR) AS rated_at, CAST(expires_at AS CHAR) AS expires_at';
export const LOOKUP_PREFIX = `${LOOKUP_COLUMNS} FROM site_ratings WHERE domain IN (`;

// A CGI run's own client reads every column as UTF-8 and sets nothing for its session (a
// round trip every run). The server converts text to the session's character_set_results,
// which an init_connect may have changed (`SET NAMES latin1`: ☕ came out as ?): the two text
// columns come as the bytes of their UTF-8, which no conversion touches. The domain is ASCII
// (punycode) and the times are digits.
export const WIRE_LOOKUP_PREFIX =
  'SELECT domain, CAST(CONVERT(rating USING utf8mb4) AS BINARY), CAST(CONVERT(info USING utf8mb4) AS BINARY), ' +
  'CAST(rated_at AS CHAR), CAST(expires_at AS CHAR) FROM site_ratings WHERE domain IN (';

/**
 * A queued row met again, merged per CONTRACT §5. `requests` stops at the INT column's largest
 * value: past it the write was refused (out of range), and every request naming that domain
 * answered 500, with none of its other domains queued, until the row was claimed.
 */
export const ENQUEUE_SUFFIX =
  ' ON DUPLICATE KEY UPDATE priority = GREATEST(priority, VALUES(priority)), ' +
  `requests = LEAST(requests + VALUES(requests), ${MAX_REQUESTS}), last_requested = VALUES(last_requested), source_ip = VALUES(source_ip)`;
