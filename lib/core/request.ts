// Turns a CGI-style environment and body into a look-up request, or a refusal that says
// exactly what was wrong. Everything a refusal needs is checked before any database work.
import { parseForm } from './form.js';

export type Env = Record<string, string | undefined>;
export type Format = 'xml' | 'json';

export interface Limits {
  maxUrls: number;
  maxBody: number;
}

export interface Refusal {
  status: number;
  code: string;
  message: string;
  headers?: Array<[string, string]>;
  /** The format the client asked for, when it got that far; XML otherwise. */
  format?: Format;
}

export interface LookupRequest {
  urls: string[];
  priority: number;
  format: Format;
  sourceIp: string | null;
}

const ALLOWED_METHODS = 'GET, HEAD, POST';
const FORM_TYPE = 'application/x-www-form-urlencoded';

function requestMethod(env: Env): string {
  return (env.REQUEST_METHOD || 'GET').toUpperCase();
}

/**
 * The body's length as the environment declares it: CONTENT_LENGTH; NaN when that is not a
 * byte count; Infinity when a body of undeclared length follows. Apache hands a chunked
 * body (and an HTTP/2 body sent without a length) to a CGI script as stdin up to its end,
 * with no CONTENT_LENGTH and the Transfer-Encoding header as HTTP_TRANSFER_ENCODING. Caddy
 * (2.6, Debian 12's) sends Go's "unknown", -1, for a chunked body and streams it as FastCGI
 * STDIN, whose end is the body's.
 */
export function contentLength(env: Env): number {
  const raw = env.CONTENT_LENGTH?.trim();
  if (raw === undefined || raw === '') return env.HTTP_TRANSFER_ENCODING ? Infinity : 0;
  if (raw === '-1') return Infinity;
  return /^\d{1,15}$/.test(raw) ? Number(raw) : NaN;
}

/** The refusal of a body over the limit, its size known (declared) or not (counted as it came). */
export function bodyTooLarge(maxBody: number, length = Infinity): Refusal {
  const size = Number.isFinite(length) ? `of ${length} bytes ` : '';
  return { status: 413, code: 'body-too-large', message: `request body ${size}is over the limit of ${maxBody} bytes` };
}

/** The format the answer (or the refusal) should use, from the query string's pairs alone. */
export function requestedFormat(query: Array<[string, string]>): Format {
  let format: Format = 'xml';
  for (const [name, value] of query) {
    if (name.toLowerCase() === 'format') format = value === 'json' ? 'json' : 'xml';
  }
  return format;
}

/**
 * What can be refused from the environment alone: the method, the body's declared size
 * and type. A transport calls this before it reads a single body byte.
 */
export function refuseEarly(env: Env, limits: Limits): Refusal | null {
  const method = requestMethod(env);
  if (method !== 'GET' && method !== 'HEAD' && method !== 'POST') {
    return {
      status: 405,
      code: 'method-not-allowed',
      message: `method ${method.slice(0, 32)} not allowed; use GET, HEAD or POST`,
      headers: [['Allow', ALLOWED_METHODS]],
    };
  }
  const length = contentLength(env);
  if (Number.isNaN(length)) {
    return { status: 400, code: 'bad-content-length', message: 'CONTENT_LENGTH is not a byte count' };
  }
  // A body of undeclared length is counted as it is read, by the transport.
  if (Number.isFinite(length) && length > limits.maxBody) return bodyTooLarge(limits.maxBody, length);
  if (method === 'POST' && length > 0) {
    const type = (env.CONTENT_TYPE || FORM_TYPE).split(';')[0].trim().toLowerCase();
    if (type !== FORM_TYPE) {
      return {
        status: 415,
        code: 'unsupported-media-type',
        message: `POST body must be ${FORM_TYPE}`,
      };
    }
  }
  return null;
}

/** Parses the parameters of a request that refuseEarly let through: its query string's pairs, then its body's. */
export function parseLookup(env: Env, query: Array<[string, string]>, body: Uint8Array, limits: Limits): LookupRequest | Refusal {
  const method = requestMethod(env);
  const pairs = method === 'POST' && body.length > 0 ? query.concat(parseForm(body)) : query;

  const urls: string[] = [];
  let priorityText: string | null = null;
  let formatText: string | null = null;
  for (const [name, value] of pairs) {
    const key = name.toLowerCase();
    if (key === 'url') {
      // Stop collecting past the limit: the answer is a refusal anyway.
      if (urls.length <= limits.maxUrls) urls.push(value);
    } else if (key === 'priority') {
      priorityText = value;
    } else if (key === 'format') {
      formatText = value;
    }
  }

  if (formatText !== null && formatText !== 'xml' && formatText !== 'json') {
    return { status: 400, code: 'bad-format', message: 'format must be xml or json' };
  }
  const format: Format = (formatText as Format | null) ?? 'xml';
  let priority = 1;
  if (priorityText !== null) {
    if (!/^[+-]?\d+$/.test(priorityText)) {
      return { status: 400, code: 'bad-priority', message: 'priority must be an integer', format };
    }
    // Clamp on the text's sign and size so that huge values need no big-number parsing.
    const negative = priorityText.startsWith('-');
    const digits = priorityText.replace(/^[+-]?0*/, '');
    priority = negative ? 0 : digits.length > 1 ? 9 : Math.min(9, Number(digits || '0'));
  }
  if (urls.length === 0) {
    return { status: 400, code: 'no-url', message: 'at least one url parameter is required', format };
  }
  if (urls.length > limits.maxUrls) {
    return {
      status: 400,
      code: 'too-many-urls',
      message: `at most ${limits.maxUrls} url parameters are allowed`,
      format,
    };
  }
  const remote = env.REMOTE_ADDR || '';
  return {
    urls,
    priority,
    format,
    sourceIp: remote.length > 0 && remote.length <= 45 ? remote : null,
  };
}
