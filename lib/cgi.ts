// CGI transport: the environment and stdin in, Status + headers + body on stdout, exit.
// The declared body is always read to its end, also when the answer is a refusal: under
// Apache's mod_cgid a script that exits with body bytes unread gets its response reset.
import { handleRequest, earlyResponse, cgiBytes, newRequestId } from './handler.js';
import type { Response } from './handler.js';
import { contentLength, requestedFormat } from './request.js';
import { renderError } from './render.js';
import { openStore } from './store.js';
import type { Store } from './store.js';
import type { Settings } from './config.js';
import { log } from './log.js';

type Env = Record<string, string | undefined>;

/** Reads exactly `length` bytes of stdin, or until EOF; keeps them only if asked. */
function readStdin(length: number, keep: boolean): Promise<Buffer> {
  if (length <= 0) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve) => {
    const stdin = process.stdin;
    const chunks: Buffer[] = [];
    let received = 0;
    const finish = () => {
      stdin.off('data', onData).off('end', finish).off('error', finish);
      stdin.pause();
      resolve(keep ? Buffer.concat(chunks) : Buffer.alloc(0));
    };
    const onData = (chunk: Buffer) => {
      const take = Math.min(chunk.length, length - received);
      if (keep) chunks.push(chunk.subarray(0, take));
      received += take;
      if (received >= length) finish();
    };
    stdin.on('data', onData).on('end', finish).on('error', finish);
  });
}

function writeStdout(bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    process.stdout.write(bytes, () => resolve());
  });
}

/** One CGI request; `timing` holds the phases measured before it (startup, load) and gets the rest. */
export async function runCgi(env: Env, settings: Settings, timing: Array<[string, number]>): Promise<void> {
  const limits = { maxUrls: settings.maxUrls, maxBody: settings.maxBody };
  const declared = contentLength(env);
  let response: Response | null = earlyResponse(env, limits);
  const body = await readStdin(Number.isNaN(declared) ? 0 : declared, response === null);
  let store: Store | null = null;
  if (response === null) {
    response = await handleRequest(env, body, {
      limits,
      retryAfter: settings.retryAfter,
      log,
      timing,
      store: async () => (store = await openStore(settings.db)),
    });
  }
  await writeStdout(cgiBytes(response));
  await (store as Store | null)?.close();
}

/** The answer when the service cannot even read its settings: 500, details in the log. */
export async function cgiFailure(env: Env): Promise<void> {
  const requestId = newRequestId();
  log(`req=${requestId} 500 configuration error (see the line above)`);
  const doc = renderError(
    { status: 500, code: 'internal', message: `internal error; request id ${requestId}` },
    requestedFormat(env),
    requestId,
  );
  await readStdin(contentLength(env) || 0, false);
  await writeStdout(cgiBytes({ status: 500, headers: [['Content-Type', doc.contentType]], body: doc.body, head: false }));
}
