// FastCGI transport: a listener (fd 0 from mod_fcgid, or --listen for nginx and
// mod_proxy_fcgi), a loop per connection feeding a session, and each complete request
// handed to the same handler CGI uses, over a store held open for the life of the process.
//
// Connections are not capped: thousands may sit idle or stalled without keeping a new one
// out (CONTRACT §7). What bounds them: the read timeout for a peer that stops inside a
// record or request, or stops reading its answers; the memory budget across connections;
// the open-file limit (past it, libuv accepts and closes, and the responder serves again
// once descriptors are free).
import { createServer } from 'node:net';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { PerformanceObserver } from 'node:perf_hooks';
import type { Server, Socket } from 'node:net';
import { createSession } from './session.js';
import type { FcgiRequest } from './session.js';
import { ProtocolError } from './record.js';
import { parseListen, listen, removeSocketFile, connectionLimit } from './listener.js';
import type { Address } from './listener.js';
import { receive, handle, refuse, fail, newRequestId } from '../core/handler.js';
import type { Response, Incoming } from '../core/handler.js';
import { bodyTooLarge } from '../core/request.js';
import { msSinceStart } from '../core/time.js';
import { supervisorChannel } from './channel.js';
import type { SupervisorChannel } from './channel.js';
import { requestPath, sumStatus, prometheusText } from './status.js';
import type { Counters, Status } from './status.js';
import type { Settings } from '../core/settings.js';
import { SettingsError } from '../core/errors.js';
import type { AbortFlag } from '../core/errors.js';
import { log } from '../core/log.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/store.js';
import { grouped } from '../store/grouping.js';
import { responseBytes } from '../cgi/response.js';

const MAX_PARAMS_BYTES = 256 * 1024;
const SHUTDOWN_GRACE_MS = 30_000;
// A connection the responder has ended (its FIN sent: an answer without FCGI_KEEP_CONN, or
// a stop) is kept until the peer closes its side too, to reset a request that crossed the
// FIN on the wire (take()). That request arrives within a round trip: a peer that has not
// closed this long after the FIN never will, and would hold the descriptor for the life of
// the process (or a stop for its whole grace).
const ENDED_GRACE_MS = 1000;
// A connection closed under a request fails it: nginx asks again for a GET but answers a
// POST 502, and Apache's mod_proxy_fcgi answers any 503. So a stop closes a connection that
// has sent nothing yet only once it has been so for STOP_IDLE_MS (a web server connects to send
// a request). A worker that a reload retires, with others serving on the same socket, leaves
// every kept connection open while its web server uses it, and closes it once it has been
// idle STOP_IDLE_MS: nginx retires a kept connection itself after `keepalive_requests`
// (1,000) requests, so under load they go within seconds, each closed by nginx. Past
// KEPT_DRAIN_MS it closes each right after its next answer, for a web server that never
// retires them. Any other stop (SIGTERM: no process takes over) closes them at once.
const STOP_IDLE_MS = 1000;
const KEPT_DRAIN_MS = 10_000;
// Bytes held for requests still being received, across all connections: past it, the
// connection holding the most is closed (a stalled or hostile peer, almost always).
const MAX_BUFFERED_BYTES = 64 * 1024 * 1024;
// Descriptors kept for the process itself: the database pool, files, the listener.
const RESERVED_FDS = 32;

/** The store, opened on first use and again after a failed open; a pool on MySQL, look-ups and queue writes grouped. */
function heldStore(settings: Settings) {
  let opening: Promise<Store> | null = null;
  let opened: Store | null = null;
  return {
    get(): Promise<Store> {
      opening ??= openStore(settings.db, { persistent: true, poolSize: settings.poolSize, readUrl: settings.dbRead }).then(
        // Only MySQL gains: SQLite answers synchronously inside the event loop, so there is
        // nothing to overlap, and merged IN-lists of varying length defeat statement reuse.
        (store) => (opened = store.kind === 'mysql' ? grouped(store, { separateServers: Boolean(settings.dbRead) }) : store),
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
    /** Which listed servers the store uses now (the status), once it is open. */
    inUse: () => opened?.inUse?.(),
  };
}

/** The responder's state: what every connection shares. */
interface Responder {
  settings: Settings;
  limits: { maxUrls: number; maxBody: number };
  store: ReturnType<typeof heldStore>;
  allowedPeers: string[];
  /** Connections this process can hold (its open-file limit, less its own needs). */
  maxConns: number;
  /** The answers to FCGI_GET_VALUES. */
  values: Record<string, string>;
  /** Each open connection. */
  connections: Set<Connection>;
  /** Bytes held for requests still being received, summed over the connections. */
  buffered: number;
  inFlight: number;
  served: number;
  busy: number;
  errors: number;
  databaseReachable: boolean | null;
  stopping: boolean;
  /** A retired worker, in its first KEPT_DRAIN_MS: kept connections stay until idle. */
  lingering: boolean;
  finishing: boolean;
  server: Server;
  address: Address;
  /** The supervisor, when this process is one of its workers. */
  channel: SupervisorChannel | null;
  /** Told once, when its first request (a status poll aside) has been answered; then null. */
  firstAnswered: (() => void) | null;
  finished(): void;
}

/** One web-server connection and its requests. */
interface Connection {
  socket: Socket;
  peer: string;
  session: ReturnType<typeof createSession>;
  /** Each request being answered, by id, with the flag an FCGI_ABORT_REQUEST sets. */
  aborts: Map<number, { aborted: boolean }>;
  /** Its share of Responder.buffered. */
  buffered: number;
  /** The read timeout is armed (the peer is inside a record or request). */
  waiting: boolean;
  /** Reading is held until the peer takes its answers (the socket's timer then counts time with none taken). */
  held: boolean;
  /** When it was accepted or last answered a request (msSinceStart). */
  lastActive: number;
}

// A persistent responder lets V8's young generation grow to semi-spaces of 4 MB and holds it
// there, so that its RSS stays where it settles: left to grow (to 16 MB each) it holds ~30 MB
// more and still grows after a million requests. Held instead at its size when serving starts
// (1 MB semi-spaces), a scavenge came every ~16 requests and copied the requests in flight
// (~260 KB of a 10-URL cycle's 16) each time: the collector took ~16 % of the responder's CPU.
// At 4 MB a scavenge comes about a fifth as often, as long: 10-15 % less CPU a 10-URL request
// for ~6 MB more RSS (README, Performance; test/integration/young-generation.ts). Who prefers
// otherwise starts node with its own --max-semi-space-size, and it is left alone. Not a flag on
// the bin's #! line: any V8 flag there makes V8 refuse Node's own code cache for its built-in
// modules, ~8 ms of every CGI run. V8 fixes the largest size as it starts but reads the growth
// factor at each scavenge: so the growth is stopped, from a collection's report, once the new
// space (both semi-spaces) has reached the size.
const YOUNG_GENERATION_BYTES = 8 * 2 ** 20;
function holdYoungGeneration(): void {
  const chosen = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((flag) => /^--max[-_]semi[-_]space[-_]size\b/.test(flag));
  if (chosen) return;
  const grown = () => (getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0) >= YOUNG_GENERATION_BYTES;
  const hold = () => setFlagsFromString('--semi-space-growth-factor=1');
  if (grown()) return hold();
  // V8 doubles the new space at a scavenge, and several scavenges apart: each report is read
  // before the next doubling can come.
  const scavenges = new PerformanceObserver(() => {
    if (!grown()) return;
    hold();
    scavenges.disconnect();
  });
  scavenges.observe({ entryTypes: ['gc'] });
}

export async function runFastCgi(settings: Settings, firstAnswered: () => void): Promise<void> {
  holdYoungGeneration();
  const maxConns = connectionLimit(RESERVED_FDS + settings.poolSize);
  let finished!: () => void;
  const done = new Promise<void>((resolve) => (finished = resolve));
  const r: Responder = {
    settings,
    limits: { maxUrls: settings.maxUrls, maxBody: settings.maxBody },
    store: heldStore(settings),
    allowedPeers: (process.env.FCGI_WEB_SERVER_ADDRS ?? '').split(',').map((a) => a.trim()).filter(Boolean),
    maxConns,
    values: {
      FCGI_MAX_CONNS: String(maxConns),
      FCGI_MAX_REQS: String(settings.maxReqs),
      FCGI_MPXS_CONNS: '1',
    },
    connections: new Set(),
    buffered: 0,
    inFlight: 0,
    served: 0,
    busy: 0,
    errors: 0,
    databaseReachable: null,
    stopping: false,
    lingering: false,
    finishing: false,
    server: createServer(),
    address: parseListen(settings.listen),
    channel: null,
    firstAnswered,
    finished,
  };
  r.channel = supervisorChannel(() => counters(r));
  const atLimit = rateLimitedLog();
  r.server.on('connection', (socket: Socket) => {
    serveConnection(r, socket);
    // Past the open-file limit libuv accepts and closes at once, without a word: say it here.
    if (r.connections.size >= r.maxConns) atLimit(`${r.connections.size} connections: at the open-file limit, new connections are shed until some close`);
  });
  // Open the store before listening, so that the first request does not pay for it. Opening
  // connects to nothing (a MySQL pool connects on first use): a failure here is a database
  // URL that cannot be read (a bad host:port, ?failback=), which stops the start with its
  // reason, as a bad setting does, instead of failing every request with a 500; a worker
  // that cannot start keeps the old one in service on reload. Any other failure (an
  // SQLite file not there yet) is retried per request.
  try {
    await r.store.get();
  } catch (err) {
    if (err instanceof SettingsError) throw err;
    log(`database not reachable yet: ${(err as Error).message}`);
  }
  for (const signal of ['SIGTERM', 'SIGUSR1', 'SIGINT'] as const) process.on(signal, () => stop(r, signal));
  await listen(r.server, r.address, settings.backlog);
  const listenerError = rateLimitedLog();
  r.server.on('error', (err) => listenerError(`listener error: ${err.message}`));
  log(`FastCGI responder ready on ${'fd' in r.address ? `fd ${r.address.fd}` : settings.listen}`);
  r.channel?.ready();
  r.channel?.onLost(() => stop(r, 'the supervisor is gone'));
  r.channel?.onRetire(() => stop(r, 'retired by a reload', true));
  await done;
}

/** One web-server connection: bytes into its session, each complete request answered. */
function serveConnection(r: Responder, socket: Socket): void {
  const peer = socket.remoteAddress?.replace(/^::ffff:/, '') ?? '';
  if (r.allowedPeers.length > 0 && peer && !r.allowedPeers.includes(peer)) {
    log(`refused connection from ${peer}: not in FCGI_WEB_SERVER_ADDRS`);
    socket.destroy();
    return;
  }
  socket.setNoDelay(true);
  const conn: Connection = { socket, peer, aborts: new Map(), session: null!, buffered: 0, waiting: false, held: false, lastActive: msSinceStart() };
  conn.session = createSession({
    maxParamsBytes: MAX_PARAMS_BYTES,
    maxStdin: r.limits.maxBody,
    values: r.values,
    send: (bytes) => {
      if (!socket.writableEnded && !socket.destroyed && !socket.write(bytes)) holdReading(r, conn);
    },
    onAbort: (id) => {
      const flag = conn.aborts.get(id);
      if (flag) flag.aborted = true;
    },
    onRequest: (request) => take(r, conn, request),
  });
  r.connections.add(conn);
  socket.on('data', (chunk: Buffer) => receiveBytes(r, conn, chunk));
  socket.on('timeout', () => {
    if (conn.held) {
      log(`closing a connection${peer ? ` from ${peer}` : ''}: it has read none of its answers for ${r.settings.readTimeout} s`);
      socket.destroy();
      return;
    }
    if (!conn.session.midRequest()) return;
    log(`closing a connection${peer ? ` from ${peer}` : ''}: no byte for ${r.settings.readTimeout} s inside a request`);
    socket.destroy();
  });
  socket.on('error', () => {}); // a web server that hangs up is not an event worth a line
  socket.on('close', () => {
    for (const flag of conn.aborts.values()) flag.aborted = true;
    r.connections.delete(conn);
    r.buffered -= conn.buffered;
    if (r.stopping) void maybeFinish(r);
  });
}

/** Bytes from a peer: into its session; then the read timeout and the memory budget. */
function receiveBytes(r: Responder, conn: Connection, chunk: Buffer): void {
  try {
    conn.session.feed(chunk);
  } catch (err) {
    const from = conn.peer ? ` from ${conn.peer}` : '';
    if (err instanceof ProtocolError) log(`closing a connection${from}: malformed FastCGI: ${err.message}`);
    else log(`req=${newRequestId()} closing a connection${from}: internal error: ${(err as Error)?.stack ?? String(err)}`);
    conn.socket.destroy();
    return;
  }
  const waiting = conn.session.midRequest();
  if (waiting !== conn.waiting) conn.socket.setTimeout(waiting ? r.settings.readTimeout * 1000 : 0);
  conn.waiting = waiting;
  const buffered = conn.session.buffered();
  r.buffered += buffered - conn.buffered;
  conn.buffered = buffered;
  if (r.buffered > MAX_BUFFERED_BYTES) shedLargest(r);
}

/**
 * A peer that asks faster than it reads its answers (one that never reads them, above all)
 * would have them pile up in this process's memory without bound: 20,000 pipelined
 * requests of 100 URLs held 330 MB. Nothing more is read from it until what it has been sent
 * drains (its next requests wait in the kernel's buffers, then its own writes stop); one that
 * takes none of it for --read-timeout seconds is closed.
 */
function holdReading(r: Responder, conn: Connection): void {
  if (conn.held) return;
  const { socket } = conn;
  conn.held = true;
  socket.pause();
  // The socket's own idle timer: Node restarts it each time a write completes, and nothing is
  // read meanwhile, so it counts time with nothing taken, as nginx's send_timeout does. A slow
  // peer that takes an answer now and then keeps its connection, however long the whole
  // takes to drain (the kernel passes answers on in lumps of tens of KB).
  socket.setTimeout(r.settings.readTimeout * 1000);
  socket.once('drain', () => {
    conn.held = false;
    socket.setTimeout(conn.waiting ? r.settings.readTimeout * 1000 : 0);
    socket.resume();
  });
}

/** Over the memory budget: closes the connection holding the most bytes of unfinished requests. */
function shedLargest(r: Responder): void {
  let largest: Connection | null = null;
  for (const conn of r.connections) if (!largest || conn.buffered > largest.buffered) largest = conn;
  if (!largest) return;
  log(`closing a connection${largest.peer ? ` from ${largest.peer}` : ''}: it holds ${largest.buffered} bytes of unfinished requests and all connections together are over ${MAX_BUFFERED_BYTES}`);
  r.buffered -= largest.buffered;
  largest.buffered = 0;
  largest.socket.destroy();
}

/** A log for events that can come by the thousand: at most one line every 5 s, with a count of the rest. */
function rateLimitedLog(): (line: string) => void {
  let last = 0;
  let suppressed = 0;
  return (line) => {
    if (Date.now() - last < 5000) {
      suppressed++;
      return;
    }
    log(`${line}${suppressed ? ` (and ${suppressed} more since the last such line)` : ''}`);
    last = Date.now();
    suppressed = 0;
  };
}

/** A complete request: answered, then the connection kept or ended as the web server asked. */
function take(r: Responder, conn: Connection, request: FcgiRequest): void {
  // A request that reaches a connection we have already ended (a draining process ending
  // its idle kept connections, crossing the web server's request on the wire) is not
  // taken, and the connection is reset now: left half-closed, the web server would wait for
  // an answer until its read timeout (nginx: a 504 after 60 s); reset, it sends the request
  // again on another connection, as it does whenever a kept connection fails.
  if (conn.socket.writableEnded || conn.socket.destroyed) {
    conn.socket.destroy();
    return;
  }
  const abort = { aborted: false };
  conn.aborts.set(request.id, abort);
  r.inFlight++;
  const started = msSinceStart();
  const timing: Array<[string, number]> = [];
  // A status request (a monitor's poll) is not a look-up: it counts neither as served nor toward --max-requests.
  const statusPoll = isStatusRequest(r, request);
  void answer(r, request, statusPoll, abort, timing).then((response) => {
    conn.aborts.delete(request.id);
    r.inFlight--;
    if (!statusPoll) r.served++;
    if (response.status === 500) r.errors++;
    const elapsed = msSinceStart() - started;
    if (r.settings.slowMs > 0 && elapsed > r.settings.slowMs) {
      log(`req=${newRequestId()} slow: ${elapsed.toFixed(1)} ms, status ${response.status}, ${timing.map(([name, ms]) => `${name} ${ms.toFixed(1)} ms`).join(', ') || 'no database work'}`);
    }
    conn.session.respond(request.id, responseBytes(response));
    if (r.firstAnswered && !statusPoll) {
      const told = r.firstAnswered;
      r.firstAnswered = null;
      told();
    }
    conn.lastActive = msSinceStart();
    if (!request.keepConn) endConnection(conn);
    // Supervised, a recycled worker lingers as a retired one does; its successor starts as it exits.
    if (!statusPoll && r.settings.maxRequests > 0 && r.served >= r.settings.maxRequests) stop(r, `served ${r.served} requests (--max-requests)`, r.channel !== null);
    closeIfIdle(r, conn);
    // A stop ends when its last connection closes or its last request ends, whichever is
    // later: a request whose web server hung up may end after every connection is gone.
    if (r.stopping) void maybeFinish(r);
  });
}

async function answer(r: Responder, request: FcgiRequest, statusPoll: boolean, signal: AbortFlag, timing: Array<[string, number]>): Promise<Response> {
  const incoming = receive(request.params, r.limits);
  if (statusPoll) return statusResponse(r, incoming);
  if (r.inFlight > r.settings.maxReqs) {
    r.busy++;
    const busy = refuse(incoming, { status: 503, code: 'busy', message: 'too many requests in flight; try again shortly' });
    busy.headers.push(['Retry-After', '1']);
    return busy;
  }
  if (incoming.refusal) return incoming.refusal;
  if (request.stdinOverflow) {
    return refuse(incoming, bodyTooLarge(r.limits.maxBody));
  }
  const ctx = { limits: r.limits, retryAfter: r.settings.retryAfter, log, timing, signal, store: () => r.store.get() };
  const response = await handle(incoming, request.stdin, ctx).catch((err) => fail(incoming, err, log));
  // Whether the database answered, as the status reports it: a 200 used it; a 503 from the handler could not reach it.
  if (response.status === 200) r.databaseReachable = true;
  else if (response.status === 503) r.databaseReachable = false;
  return response;
}

function isStatusRequest(r: Responder, request: FcgiRequest): boolean {
  return Boolean(r.settings.statusPath) && requestPath(request.params) === r.settings.statusPath;
}

/** This process's counters. */
function counters(r: Responder): Counters {
  return {
    pid: process.pid,
    uptime: process.uptime(),
    requests: r.served,
    inFlight: r.inFlight,
    connections: r.connections.size,
    busy: r.busy,
    errors: r.errors,
    databaseReachable: r.databaseReachable,
    database: r.store.inUse(),
  };
}

/** The status document for an allowed address (403 otherwise), summed over the workers when supervised. */
async function statusResponse(r: Responder, incoming: Incoming): Promise<Response> {
  const allowed = r.settings.statusAllow.split(',').map((a) => a.trim());
  const peer = (incoming.env.REMOTE_ADDR ?? '').replace(/^::ffff:/, '');
  if (!allowed.includes(peer)) return refuse(incoming, { status: 403, code: 'forbidden', message: 'the status is not for this address (--status-allow)' });
  let status: Status;
  try {
    status = r.channel ? await r.channel.status() : sumStatus(process.pid, process.uptime(), [counters(r)]);
  } catch (err) {
    return fail(incoming, err, log);
  }
  const prometheus = incoming.query.some(([name, value]) => name === 'format' && value === 'prometheus');
  const body = prometheus ? prometheusText(status) : JSON.stringify(status) + '\n';
  const type = prometheus ? 'text/plain; version=0.0.4; charset=utf-8' : 'application/json';
  return { status: 200, headers: [['Content-Type', type], ['Cache-Control', 'no-store']], body, head: incoming.head };
}

/**
 * While stopping: a connection with nothing in flight is closed, but one that has sent nothing
 * yet, or any while the worker lingers, only once idle STOP_IDLE_MS. Once all it has to send is
 * with the kernel it is closed, not ended: Node would send the FIN a turn of the event loop
 * later, time enough for Apache (enablereuse=on) to take it from its pool again and send a
 * request.
 */
function closeIfIdle(r: Responder, conn: Connection): void {
  if (!r.stopping || conn.session.inFlight() > 0 || conn.session.midRequest()) return;
  if ((r.lingering || conn.socket.bytesRead === 0) && msSinceStart() - conn.lastActive < STOP_IDLE_MS) return;
  if (conn.socket.writableLength === 0) conn.socket.destroy();
  else endConnection(conn);
}

/** closeIfIdle for every connection. */
function closeIdle(r: Responder): void {
  for (const conn of r.connections) closeIfIdle(r, conn);
}

/** Ends a connection after what it has to send, and closes it if its peer has not closed its side ENDED_GRACE_MS after that. */
function endConnection(conn: Connection): void {
  if (conn.socket.writableEnded) return;
  conn.socket.end(() => setTimeout(() => conn.socket.destroy(), ENDED_GRACE_MS).unref());
}

/**
 * Stops accepting, lets the requests in flight finish, then closes the store and resolves;
 * `linger` (a worker other workers take over from): kept connections first serve on until idle.
 */
function stop(r: Responder, reason: string, linger = false): void {
  if (r.stopping) {
    // A SIGTERM for a retired worker (the whole service stopping): no more lingering.
    if (!linger && r.lingering) {
      r.lingering = false;
      closeIdle(r);
    }
    return;
  }
  r.stopping = true;
  r.lingering = linger;
  log(`stopping (${reason}); ${r.inFlight} requests in flight`);
  r.server.close();
  const sweep = setInterval(() => {
    if (r.finishing) clearInterval(sweep);
    closeIdle(r);
  }, STOP_IDLE_MS / 4).unref();
  if (linger) {
    setTimeout(() => {
      r.lingering = false;
      closeIdle(r);
    }, KEPT_DRAIN_MS).unref();
  }
  closeIdle(r);
  setTimeout(() => {
    log(`giving up on ${r.connections.size} connections after ${SHUTDOWN_GRACE_MS} ms`);
    for (const conn of r.connections) conn.socket.destroy();
  }, SHUTDOWN_GRACE_MS).unref();
  void maybeFinish(r);
}

async function maybeFinish(r: Responder): Promise<void> {
  if (r.finishing || r.connections.size > 0 || r.inFlight > 0) return;
  r.finishing = true;
  await r.store.close();
  if ('path' in r.address) removeSocketFile(r.address.path);
  log(`stopped after ${r.served} requests`);
  r.finished();
}
