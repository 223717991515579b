// CGI transport: the environment and stdin in, Status + headers + body on stdout, exit.
// The body is always read to its end, also when the answer is a refusal: under Apache's
// mod_cgid a script that exits with body bytes unread gets its response reset.
// fds 0 and 1 are read and written directly, blocking: a CGI run has nothing else to do
// meanwhile, and Node's stream objects for them cost ~6 ms each to set up.
import { readSync, writeSync } from 'node:fs';
import { receive, handle, refuse, fail, type Response } from '../core/handler.js';
import { bodyTooLarge, type Env } from '../core/request.js';
import type { Settings } from '../core/settings.js';
import { DEFAULTS } from '../core/settings.js';
import { log } from '../core/log.js';
import { SettingsError } from '../core/errors.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/store.js';
import { responseHead } from './response.js';

const CHUNK = 64 * 1024;

/** Waits a little for an fd that a parent left non-blocking (EAGAIN) to be ready again. */
function pause(): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
}

// What a request without a body (or one not kept) has: not Buffer.alloc(0), which a GET
// compiled cold for nothing.
const NO_BODY = new Uint8Array(0);

/**
 * Reads fd 0 until `length` bytes have come or it ends (all of it, for a body of undeclared
 * length: Infinity), keeping at most `keep` bytes. `over`: more than `keep` came, and none
 * is kept. What is not kept is still read, into a scratch buffer.
 */
function readBody(length: number, keep: number): { body: Uint8Array; over: boolean } {
  if (!(length > 0)) return { body: NO_BODY, over: false };
  // One byte past `keep` tells that more came.
  const buffer = Buffer.allocUnsafe(Math.min(length, Math.max(keep + 1, CHUNK)));
  let kept = 0;
  let received = 0;
  while (received < length) {
    const offset = kept <= keep ? kept : 0;
    let n: number;
    try {
      n = readSync(0, buffer, offset, Math.min(buffer.length - offset, length - received), null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
        pause();
        continue;
      }
      break; // no stdin at all (EBADF), or the peer is gone: what came is what there is
    }
    if (n === 0) break;
    received += n;
    if (kept <= keep) kept += n;
  }
  return kept > keep ? { body: NO_BODY, over: true } : { body: buffer.subarray(0, kept), over: false };
}

/**
 * Writes the response to fd 1 in one write of one string, which Node encodes as it writes:
 * a Buffer built first cost a CGI run ~0.2 ms more (Buffer's encoders, compiled cold). A
 * non-blocking pipe that takes only part of it gets the rest as bytes.
 */
function writeResponse(response: Response): void {
  const bodyLength = Buffer.byteLength(response.body);
  const head = responseHead(response, bodyLength);
  const length = head.length + (response.head ? 0 : bodyLength);
  const text = response.head ? head : head + response.body;
  let written = 0;
  try {
    written = writeSync(1, text);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return;
  }
  if (written < length) writeBytes(Buffer.from(text, 'utf8').subarray(written));
}

/** Writes all of `bytes` to fd 1; a web server that has gone away (EPIPE) ends the writing. */
function writeBytes(bytes: Buffer): void {
  for (let written = 0; written < bytes.length; ) {
    try {
      written += writeSync(1, bytes, written);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return;
      pause();
    }
  }
}

/** One CGI request; `timing` holds the phases measured before it (startup, load) and gets the rest. */
export async function runCgi(env: Env, settings: Settings, timing: Array<[string, number]> = []): Promise<void> {
  const limits = { maxUrls: settings.maxUrls, maxBody: settings.maxBody };
  const incoming = receive(env, limits);
  const { body, over } = readBody(incoming.declaredLength, incoming.refusal === null ? limits.maxBody : 0);
  let store: Store | null = null;
  const response =
    incoming.refusal ??
    (over
      ? refuse(incoming, bodyTooLarge(limits.maxBody))
      : await handle(incoming, body, {
          limits,
          retryAfter: settings.retryAfter,
          log,
          timing,
          store: async () => (store = await openStore(settings.db, { readUrl: settings.dbRead, oneRequest: true })),
        }));
  writeResponse(response);
  await (store as Store | null)?.close();
}

/** The answer when the service cannot even read its settings: 500, the reason in the log only. */
export function runCgiUnconfigured(env: Env, reason: string): void {
  const incoming = receive(env, DEFAULTS);
  readBody(incoming.declaredLength, 0);
  writeResponse(fail(incoming, new SettingsError(reason), log));
}
