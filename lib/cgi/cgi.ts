// CGI transport: the environment and stdin in, Status + headers + body on stdout, exit.
// The declared body is always read to its end, also when the answer is a refusal: under
// Apache's mod_cgid a script that exits with body bytes unread gets its response reset.
import { receive, handle, fail } from '../core/handler.js';
import type { Env } from '../core/request.js';
import type { Settings } from '../core/settings.js';
import { DEFAULTS } from '../core/settings.js';
import { log } from '../core/log.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/store.js';
import { responseBytes } from './response.js';

/** Reads exactly `length` bytes of stdin, or until EOF; keeps them only if asked. */
function readStdin(length: number, keep: boolean): Promise<Buffer> {
  if (!(length > 0)) return Promise.resolve(Buffer.alloc(0));
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
export async function runCgi(env: Env, settings: Settings, timing: Array<[string, number]> = []): Promise<void> {
  const limits = { maxUrls: settings.maxUrls, maxBody: settings.maxBody };
  const incoming = receive(env, limits);
  const body = await readStdin(incoming.declaredLength, incoming.refusal === null);
  let store: Store | null = null;
  const response =
    incoming.refusal ??
    (await handle(incoming, body, {
      limits,
      retryAfter: settings.retryAfter,
      log,
      timing,
      store: async () => (store = await openStore(settings.db)),
    }));
  await writeStdout(responseBytes(response));
  await (store as Store | null)?.close();
}

/** The answer when the service cannot even read its settings: 500, the reason in the log only. */
export async function runCgiUnconfigured(env: Env, reason: string): Promise<void> {
  const incoming = receive(env, DEFAULTS);
  await readStdin(incoming.declaredLength, false);
  await writeStdout(responseBytes(fail(incoming, `configuration error: ${reason}`, log)));
}
