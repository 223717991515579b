// The one entry point every transport calls: a CGI-style environment and a body in, a
// status, headers and body out. It never learns which transport called it.
import { parseLookup, isRefusal, refuseEarly, requestedFormat } from './request.js';
import type { Env, Limits, Refusal, Format } from './request.js';
import { renderRatings, renderError } from './render.js';
import { rateSites } from './lookup.js';
import { isUnavailable } from './store.js';
import type { Store } from './store.js';

export interface Response {
  status: number;
  headers: Array<[string, string]>;
  body: string;
  /** HEAD: the headers are sent, the body is not. */
  head: boolean;
}

export interface HandlerContext {
  limits: Limits;
  retryAfter: number;
  /** The store, connected; throws UnavailableError when the database cannot be reached. */
  store(): Promise<Store>;
  log(line: string): void;
  /** Phase timings (name, ms) for Server-Timing; the handler adds connect, query, render. */
  timing?: Array<[string, number]>;
}

let requestSeq = 0;
export function newRequestId(): string {
  return `${process.pid.toString(36)}-${Date.now().toString(36)}-${(++requestSeq).toString(36)}`;
}

export function refusalResponse(refusal: Refusal, format: Format, head: boolean, requestId?: string): Response {
  const doc = renderError(refusal, format, requestId);
  return {
    status: refusal.status,
    headers: [['Content-Type', doc.contentType], ...(refusal.headers ?? [])],
    body: doc.body,
    head,
  };
}

/** A refusal from the environment alone, for a transport to answer before reading a body. */
export function earlyResponse(env: Env, limits: Limits): Response | null {
  const refusal = refuseEarly(env, limits);
  return refusal ? refusalResponse(refusal, requestedFormat(env), false) : null;
}

export async function handleRequest(env: Env, body: Uint8Array, ctx: HandlerContext): Promise<Response> {
  const request = parseLookup(env, body, ctx.limits);
  if (isRefusal(request)) {
    return refusalResponse(request, request.format ?? requestedFormat(env), (env.REQUEST_METHOD || '').toUpperCase() === 'HEAD');
  }
  const timing = ctx.timing;
  let last = performance.now();
  const phases = {
    mark(phase: string) {
      const now = performance.now();
      timing?.push([phase, now - last]);
      last = now;
    },
  };
  try {
    const store = await ctx.store();
    phases.mark('connect');
    const results = await rateSites(store, request, new Date(), phases);
    const doc = renderRatings(results, request.format);
    phases.mark('render');
    const headers: Array<[string, string]> = [
      ['Content-Type', doc.contentType],
      ['Cache-Control', 'no-store'],
    ];
    if (timing) headers.push(['Server-Timing', serverTiming(timing)]);
    return { status: 200, headers, body: doc.body, head: request.head };
  } catch (err) {
    const requestId = newRequestId();
    if (isUnavailable(err)) {
      ctx.log(`req=${requestId} 503 database unavailable: ${err.message}`);
      const response = refusalResponse(
        { status: 503, code: 'unavailable', message: 'the rating database is unavailable; try again later' },
        request.format,
        request.head,
      );
      response.headers.push(['Retry-After', String(ctx.retryAfter)]);
      return response;
    }
    ctx.log(`req=${requestId} 500 internal error: ${(err as Error)?.stack ?? String(err)}`.replace(/\n/g, ' | '));
    return refusalResponse(
      { status: 500, code: 'internal', message: `internal error; request id ${requestId}` },
      request.format,
      request.head,
      requestId,
    );
  }
}

export function serverTiming(timing: Array<[string, number]>): string {
  return timing.map(([name, ms]) => `${name};dur=${ms.toFixed(2)}`).join(', ');
}

const REASONS: Record<number, string> = {
  200: 'OK',
  400: 'Bad Request',
  405: 'Method Not Allowed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** The response as a CGI script (or FastCGI responder) writes it: Status, headers, blank line, body. */
export function cgiBytes(response: Response): Buffer {
  const body = response.head ? Buffer.alloc(0) : Buffer.from(response.body, 'utf8');
  let head = `Status: ${response.status} ${REASONS[response.status] ?? ''}\r\n`;
  for (const [name, value] of response.headers) head += `${name}: ${value}\r\n`;
  head += `Content-Length: ${Buffer.byteLength(response.body, 'utf8')}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}
