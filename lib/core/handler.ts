// The one door of the core. A transport calls receive() with the request's environment
// before it reads a body, then handle() with the body, or refuse()/fail() when it must
// answer for itself (a full responder, a body over the limit, a fault of its own). Every
// answer, refusals and failures included, is a document in the format the client asked
// for. The core never learns which transport called it; writing the answer is theirs.
import { parseLookup, refuseEarly, requestedFormat, contentLength } from './request.js';
import { parseForm } from './form.js';
import type { Env, Limits, Refusal, Format, LookupRequest } from './request.js';
import { renderRatings, renderError } from './render.js';
import { rateSites } from './lookup.js';
import { DatabaseError, SettingsError, UnavailableError, throwIfAborted } from './errors.js';
import type { AbortFlag } from './errors.js';
import { msSinceStart } from './time.js';
import type { Store } from '../store/store.js';

export interface Response {
  status: number;
  headers: Array<[string, string]>;
  body: string;
  /** HEAD: the headers are sent, the body is not. */
  head: boolean;
}

/** A request as its environment alone describes it, decided once. */
export interface Incoming {
  env: Env;
  head: boolean;
  /** The query string's pairs, parsed once. */
  query: Array<[string, string]>;
  /** The format asked for in the query string: that of any refusal made before the body is parsed. */
  format: Format;
  /** CONTENT_LENGTH; NaN when it is not a byte count; Infinity for a body of undeclared length (read it to its end). */
  declaredLength: number;
  /** The answer, when the environment alone refuses the request: read no body for it. */
  refusal: Response | null;
}

export interface HandlerContext {
  limits: Limits;
  retryAfter: number;
  /** The store, connected; throws UnavailableError when the database cannot be reached. */
  store(): Promise<Store>;
  log(line: string): void;
  /** Phase timings (name, ms) for Server-Timing; the handler adds connect, query, render. */
  timing?: Array<[string, number]>;
  /** The client went away (FCGI_ABORT_REQUEST): database work not yet started is not started. */
  signal?: AbortFlag;
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

let requestSeq = 0;
/** An id for one request's log lines and its 500 document. */
export function newRequestId(): string {
  return `${process.pid.toString(36)}-${Date.now().toString(36)}-${(++requestSeq).toString(36)}`;
}

export function receive(env: Env, limits: Limits): Incoming {
  const query = parseForm(env.QUERY_STRING || '');
  const incoming: Incoming = {
    env,
    head: (env.REQUEST_METHOD || '').toUpperCase() === 'HEAD',
    query,
    format: requestedFormat(query),
    declaredLength: contentLength(env),
    refusal: null,
  };
  const refusal = refuseEarly(env, limits);
  if (refusal) incoming.refusal = refuse(incoming, refusal);
  return incoming;
}

/** A refusal as a document in the client's format; `format` once the parameters are parsed. */
export function refuse(incoming: Incoming, refusal: Refusal, format = incoming.format, requestId?: string): Response {
  const doc = renderError(refusal, format, requestId);
  return {
    status: refusal.status,
    headers: [['Content-Type', doc.contentType], ...(refusal.headers ?? [])],
    body: doc.body,
    head: incoming.head,
  };
}

/**
 * The last resort: 500 with a request id in the document and in the log line, never the
 * error itself. A settings error (a database URL that cannot be read, in a CGI run, which
 * reads its settings per request) or a database adrater cannot use (no tables, a damaged
 * file) is the operator's to mend, not a fault in the code: its line says so, without a stack.
 */
export function fail(incoming: Incoming, err: unknown, log: (line: string) => void, format = incoming.format): Response {
  const requestId = newRequestId();
  if (err instanceof SettingsError) log(`req=${requestId} 500 configuration error: ${err.message}`);
  else if (err instanceof DatabaseError) log(`req=${requestId} 500 database error: ${err.message}`);
  else log(`req=${requestId} 500 internal error: ${(err as Error)?.stack ?? String(err)}`.replace(/\n/g, ' | '));
  return refuse(incoming, { status: 500, code: 'internal', message: `internal error; request id ${requestId}` }, format, requestId);
}

/** The answer to a request that receive() let through, given its whole body. */
export async function handle(incoming: Incoming, body: Uint8Array, ctx: HandlerContext): Promise<Response> {
  const request = parseLookup(incoming.env, incoming.query, body, ctx.limits);
  if ('status' in request) return refuse(incoming, request, request.format ?? incoming.format);
  try {
    return await lookUp(incoming, request, ctx);
  } catch (err) {
    if (ctx.signal?.aborted) return refuse(incoming, { status: 499, code: 'aborted', message: 'the client went away' }, request.format);
    if (err instanceof UnavailableError) {
      ctx.log(`req=${newRequestId()} 503 database unavailable: ${err.message}`);
      const response = refuse(incoming, { status: 503, code: 'unavailable', message: 'the rating database is unavailable; try again later' }, request.format);
      response.headers.push(['Retry-After', String(ctx.retryAfter)]);
      return response;
    }
    return fail(incoming, err, ctx.log, request.format);
  }
}

async function lookUp(incoming: Incoming, request: LookupRequest, ctx: HandlerContext): Promise<Response> {
  const timing = ctx.timing;
  const started = msSinceStart();
  throwIfAborted(ctx.signal);
  const store = await ctx.store();
  const queryStarted = msSinceStart();
  timing?.push(['connect', queryStarted - started]);
  const rated = await rateSites(store, request, new Date(), ctx.signal);
  // A store that sends this turn's queue writes at its end (a persistent process on MySQL):
  // the answer is rendered in the next turn, while the database works, and after the commit
  // only its write is left (README "Performance"). Elsewhere (a CGI run) a turn would only cost.
  if (store.writesAtTurnEnd) await nextTurn();
  const renderStarted = msSinceStart();
  const doc = renderRatings(rated.results, request.format);
  const renderMs = msSinceStart() - renderStarted;
  const failed = await rated.committed;
  if (failed) throw failed;
  // The database's time without the rendering done meanwhile, then the rendering's.
  timing?.push(['query', msSinceStart() - queryStarted - renderMs], ['render', renderMs]);
  const headers: Array<[string, string]> = [
    ['Content-Type', doc.contentType],
    ['Cache-Control', 'no-store'],
  ];
  if (timing) headers.push(['Server-Timing', timing.map(([name, ms]) => `${name};dur=${ms.toFixed(2)}`).join(', ')]);
  return { status: 200, headers, body: doc.body, head: incoming.head };
}
