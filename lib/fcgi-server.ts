// FastCGI transport: the listening socket on fd 0 (mod_fcgid, mod_fastcgi) or --listen
// (nginx, mod_proxy_fcgi); each connection a session; each complete request handed to the
// same handler CGI uses, over a store held open for the life of the process.
import { createServer, connect } from 'node:net';
import type { Socket } from 'node:net';
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { createSession } from './fastcgi/session.js';
import type { FcgiRequest } from './fastcgi/session.js';
import { ProtocolError } from './fastcgi/record.js';
import { handleRequest, earlyResponse, refusalResponse, cgiBytes } from './handler.js';
import type { Response } from './handler.js';
import { requestedFormat } from './request.js';
import { openStore } from './store.js';
import type { Store } from './store.js';
import { grouped } from './grouping.js';
import type { Settings } from './config.js';
import { log } from './log.js';

const MAX_PARAMS_BYTES = 256 * 1024;
const SHUTDOWN_GRACE_MS = 30_000;

type Address = { fd: number } | { path: string } | { host: string; port: number };

export function parseListen(listen: string | undefined): Address {
  if (!listen) return { fd: 0 };
  if (listen.startsWith('/') || listen.startsWith('./')) return { path: listen };
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(listen);
  if (!m || Number(m[3]) > 65535) throw new Error(`--listen must be HOST:PORT or /path.sock, not "${listen}"`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port: Number(m[3]) };
}

/** Removes a socket file left by a process that is gone; refuses one that still answers. */
async function clearStaleSocket(path: string): Promise<void> {
  if (!existsSync(path)) return;
  const alive = await new Promise<boolean>((resolve) => {
    const probe = connect(path, () => (probe.destroy(), resolve(true)));
    probe.on('error', () => resolve(false));
  });
  if (alive) throw new Error(`${path} is in use by another process`);
  unlinkSync(path);
}

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

export async function runFastCgi(settings: Settings): Promise<void> {
  const limits = { maxUrls: settings.maxUrls, maxBody: settings.maxBody };
  const store = heldStore(settings);
  const allowedPeers = (process.env.FCGI_WEB_SERVER_ADDRS ?? '').split(',').map((a) => a.trim()).filter(Boolean);
  const connections = new Map<Socket, () => number>(); // socket -> its requests in flight
  let inFlight = 0;
  let served = 0;
  let stopping = false;
  let finishing = false;

  const server = createServer();
  server.maxConnections = settings.maxConns;
  const address = parseListen(settings.listen);
  if ('path' in address) await clearStaleSocket(address.path);

  let finished!: () => void;
  const done = new Promise<void>((resolve) => (finished = resolve));

  async function answer(request: FcgiRequest): Promise<Response> {
    const env = request.params;
    if (inFlight > settings.maxReqs) {
      const busy = refusalResponse({ status: 503, code: 'busy', message: 'too many requests in flight; try again shortly' }, requestedFormat(env), false);
      busy.headers.push(['Retry-After', '1']);
      return busy;
    }
    const early = earlyResponse(env, limits);
    if (early) return early;
    if (request.stdinOverflow) {
      return refusalResponse({ status: 413, code: 'body-too-large', message: `request body is over the limit of ${limits.maxBody} bytes` }, requestedFormat(env), false);
    }
    return handleRequest(env, request.stdin, {
      limits,
      retryAfter: settings.retryAfter,
      log,
      timing: [],
      store: () => store.get(),
    });
  }

  function closeIfIdle(socket: Socket) {
    if (stopping && connections.get(socket)?.() === 0) socket.end();
  }

  server.on('connection', (socket: Socket) => {
    const peer = socket.remoteAddress?.replace(/^::ffff:/, '');
    if (allowedPeers.length > 0 && peer && !allowedPeers.includes(peer)) {
      log(`refused connection from ${peer}: not in FCGI_WEB_SERVER_ADDRS`);
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const session = createSession({
      maxParamsBytes: MAX_PARAMS_BYTES,
      maxStdin: limits.maxBody,
      values: {
        FCGI_MAX_CONNS: String(settings.maxConns),
        FCGI_MAX_REQS: String(settings.maxReqs),
        FCGI_MPXS_CONNS: '1',
      },
      send: (bytes) => {
        if (!socket.writableEnded && !socket.destroyed) socket.write(bytes);
      },
      onAbort: () => {},
      onRequest: (request) => {
        // A request that reaches a connection we have already ended (shutting down) is not
        // taken: its answer could not be sent, and the web server sees the close instead.
        if (socket.writableEnded || socket.destroyed) return;
        inFlight++;
        answer(request)
          .catch((err): Response => {
            log(`internal error outside the handler: ${(err as Error)?.stack ?? err}`);
            return refusalResponse({ status: 500, code: 'internal', message: 'internal error' }, 'xml', false);
          })
          .then((response) => {
            inFlight--;
            served++;
            session.respond(request.id, cgiBytes(response));
            if (!request.keepConn) socket.end();
            if (settings.maxRequests > 0 && served >= settings.maxRequests) stop(`served ${served} requests (--max-requests)`);
            closeIfIdle(socket);
          });
      },
    });
    connections.set(socket, () => session.inFlight());
    socket.on('data', (chunk: Buffer) => {
      try {
        session.feed(chunk);
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
        log(`closing a connection${peer ? ` from ${peer}` : ''}: malformed FastCGI: ${err.message}`);
        socket.destroy();
      }
    });
    socket.on('error', () => {}); // a web server that hangs up is not an event worth a line
    socket.on('close', () => {
      connections.delete(socket);
      if (stopping) maybeFinish();
    });
  });

  async function maybeFinish() {
    if (finishing || connections.size > 0 || inFlight > 0) return;
    finishing = true;
    await store.close();
    if ('path' in address && existsSync(address.path)) unlinkSync(address.path);
    log(`stopped after ${served} requests`);
    finished();
  }

  function stop(reason: string) {
    if (stopping) return;
    stopping = true;
    log(`stopping (${reason}); ${inFlight} requests in flight`);
    server.close();
    for (const socket of connections.keys()) closeIfIdle(socket);
    setTimeout(() => {
      log(`giving up on ${connections.size} connections after ${SHUTDOWN_GRACE_MS} ms`);
      for (const socket of connections.keys()) socket.destroy();
    }, SHUTDOWN_GRACE_MS).unref();
    void maybeFinish();
  }

  for (const signal of ['SIGTERM', 'SIGUSR1', 'SIGINT'] as const) process.on(signal, () => stop(signal));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address, () => resolve());
  });
  server.on('error', (err) => log(`listener error: ${err.message}`));
  if ('path' in address) chmodSync(address.path, 0o660);
  log(`FastCGI responder ready on ${settings.listen ?? 'fd 0'}`);
  // Open the store now so the first request does not pay for it; a failure is retried per request.
  store.get().catch((err) => log(`database not reachable yet: ${(err as Error).message}`));
  await done;
}
