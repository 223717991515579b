// FastCGI transport: a listener (fd 0 from mod_fcgid, or --listen for nginx and
// mod_proxy_fcgi), a loop per connection feeding a session, and each complete request
// handed to the same handler CGI uses, over a store held open for the life of the process.
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { createSession } from './session.js';
import type { FcgiRequest } from './session.js';
import { ProtocolError } from './record.js';
import { parseListen, listen, removeSocketFile } from './listener.js';
import type { Address } from './listener.js';
import { receive, handle, refuse, fail } from '../core/handler.js';
import type { Response } from '../core/handler.js';
import type { Settings } from '../core/settings.js';
import { log } from '../core/log.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/store.js';
import { grouped } from '../store/grouping.js';
import { responseBytes } from '../cgi/response.js';

const MAX_PARAMS_BYTES = 256 * 1024;
const SHUTDOWN_GRACE_MS = 30_000;

/** The store, opened on first use and again after a failed open; a pool on MySQL, look-ups and queue writes grouped. */
function heldStore(settings: Settings) {
  let opening: Promise<Store> | null = null;
  return {
    get(): Promise<Store> {
      opening ??= openStore(settings.db, { persistent: true, poolSize: settings.poolSize }).then(
        // Only MySQL gains: SQLite answers synchronously inside the event loop, so there is
        // nothing to overlap, and merged IN-lists of varying length defeat statement reuse.
        (opened) => (opened.kind === 'mysql' ? grouped(opened) : opened),
        (err) => {
          opening = null;
          throw err;
        },
      );
      return opening;
    },
    async close(): Promise<void> {
      if (opening) await (await opening.catch(() => null))?.close();
    },
  };
}

/** The responder's state: what every connection shares. */
interface Responder {
  settings: Settings;
  limits: { maxUrls: number; maxBody: number };
  store: ReturnType<typeof heldStore>;
  allowedPeers: string[];
  /** Each open connection, with its requests in flight. */
  connections: Map<Socket, () => number>;
  inFlight: number;
  served: number;
  stopping: boolean;
  finishing: boolean;
  server: Server;
  address: Address;
  finished(): void;
}

/** One web-server connection and its requests. */
interface Connection {
  socket: Socket;
  session: ReturnType<typeof createSession>;
  aborts: Map<number, AbortController>;
}

export async function runFastCgi(settings: Settings): Promise<void> {
  let finished!: () => void;
  const done = new Promise<void>((resolve) => (finished = resolve));
  const r: Responder = {
    settings,
    limits: { maxUrls: settings.maxUrls, maxBody: settings.maxBody },
    store: heldStore(settings),
    allowedPeers: (process.env.FCGI_WEB_SERVER_ADDRS ?? '').split(',').map((a) => a.trim()).filter(Boolean),
    connections: new Map(),
    inFlight: 0,
    served: 0,
    stopping: false,
    finishing: false,
    server: createServer(),
    address: parseListen(settings.listen),
    finished,
  };
  r.server.maxConnections = settings.maxConns;
  r.server.on('connection', (socket: Socket) => serveConnection(r, socket));
  for (const signal of ['SIGTERM', 'SIGUSR1', 'SIGINT'] as const) process.on(signal, () => stop(r, signal));
  await listen(r.server, r.address);
  r.server.on('error', (err) => log(`listener error: ${err.message}`));
  log(`FastCGI responder ready on ${settings.listen ?? 'fd 0'}`);
  // Open the store now so the first request does not pay for it; a failure is retried per request.
  r.store.get().catch((err) => log(`database not reachable yet: ${(err as Error).message}`));
  await done;
}

/** One web-server connection: bytes into its session, each complete request answered. */
function serveConnection(r: Responder, socket: Socket): void {
  const peer = socket.remoteAddress?.replace(/^::ffff:/, '');
  if (r.allowedPeers.length > 0 && peer && !r.allowedPeers.includes(peer)) {
    log(`refused connection from ${peer}: not in FCGI_WEB_SERVER_ADDRS`);
    socket.destroy();
    return;
  }
  socket.setNoDelay(true);
  const conn: Connection = { socket, aborts: new Map(), session: null! };
  conn.session = createSession({
    maxParamsBytes: MAX_PARAMS_BYTES,
    maxStdin: r.limits.maxBody,
    values: { FCGI_MAX_CONNS: String(r.settings.maxConns), FCGI_MAX_REQS: String(r.settings.maxReqs), FCGI_MPXS_CONNS: '1' },
    send: (bytes) => {
      if (!socket.writableEnded && !socket.destroyed) socket.write(bytes);
    },
    onAbort: (id) => conn.aborts.get(id)?.abort(),
    onRequest: (request) => take(r, conn, request),
  });
  r.connections.set(socket, () => conn.session.inFlight());
  socket.on('data', (chunk: Buffer) => {
    try {
      conn.session.feed(chunk);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      log(`closing a connection${peer ? ` from ${peer}` : ''}: malformed FastCGI: ${err.message}`);
      socket.destroy();
    }
  });
  socket.on('error', () => {}); // a web server that hangs up is not an event worth a line
  socket.on('close', () => {
    for (const abort of conn.aborts.values()) abort.abort();
    r.connections.delete(socket);
    if (r.stopping) void maybeFinish(r);
  });
}

/** A complete request: answered, then the connection kept or ended as the web server asked. */
function take(r: Responder, conn: Connection, request: FcgiRequest): void {
  // A request that reaches a connection we have already ended (shutting down) is not
  // taken: its answer could not be sent, and the web server sees the close instead.
  if (conn.socket.writableEnded || conn.socket.destroyed) return;
  const abort = new AbortController();
  conn.aborts.set(request.id, abort);
  r.inFlight++;
  void answer(r, request, abort.signal).then((response) => {
    conn.aborts.delete(request.id);
    r.inFlight--;
    r.served++;
    conn.session.respond(request.id, responseBytes(response));
    if (!request.keepConn) conn.socket.end();
    if (r.settings.maxRequests > 0 && r.served >= r.settings.maxRequests) stop(r, `served ${r.served} requests (--max-requests)`);
    closeIfIdle(r, conn.socket);
  });
}

async function answer(r: Responder, request: FcgiRequest, signal: AbortSignal): Promise<Response> {
  const incoming = receive(request.params, r.limits);
  if (r.inFlight > r.settings.maxReqs) {
    const busy = refuse(incoming, { status: 503, code: 'busy', message: 'too many requests in flight; try again shortly' });
    busy.headers.push(['Retry-After', '1']);
    return busy;
  }
  if (incoming.refusal) return incoming.refusal;
  if (request.stdinOverflow) {
    return refuse(incoming, { status: 413, code: 'body-too-large', message: `request body is over the limit of ${r.limits.maxBody} bytes` });
  }
  const ctx = { limits: r.limits, retryAfter: r.settings.retryAfter, log, timing: [], signal, store: () => r.store.get() };
  return handle(incoming, request.stdin, ctx).catch((err) => fail(incoming, err, log));
}

function closeIfIdle(r: Responder, socket: Socket): void {
  if (r.stopping && r.connections.get(socket)?.() === 0) socket.end();
}

/** Stops accepting, lets the requests in flight finish, then closes the store and resolves. */
function stop(r: Responder, reason: string): void {
  if (r.stopping) return;
  r.stopping = true;
  log(`stopping (${reason}); ${r.inFlight} requests in flight`);
  r.server.close();
  for (const socket of r.connections.keys()) closeIfIdle(r, socket);
  setTimeout(() => {
    log(`giving up on ${r.connections.size} connections after ${SHUTDOWN_GRACE_MS} ms`);
    for (const socket of r.connections.keys()) socket.destroy();
  }, SHUTDOWN_GRACE_MS).unref();
  void maybeFinish(r);
}

async function maybeFinish(r: Responder): Promise<void> {
  if (r.finishing || r.connections.size > 0 || r.inFlight > 0) return;
  r.finishing = true;
  await r.store.close();
  removeSocketFile(r.address);
  log(`stopped after ${r.served} requests`);
  r.finished();
}
