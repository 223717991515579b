// A FastCGI responder of the real bin for a test: the same starter bench uses, with the
// test's database and, by default, a free TCP port.
import { startResponder as start } from '../../lib/bench/responder.js';
import type { Responder } from '../../lib/bench/responder.js';
import { connectFcgi } from '../../lib/fastcgi/client.js';
import type { Status } from '../../lib/fastcgi/status.js';
import { parseCgi } from './run.js';

export type { Responder };

export function startResponder(options: { db: string; path?: string; args?: string[]; env?: Record<string, string>; nodeFlags?: string[]; launcher?: string[]; bin?: string }): Promise<Responder> {
  const { db, env, ...rest } = options;
  return start({ env: { ADRATER_DB: db, ...env }, ...rest });
}

/** The params a web server sends for a GET of `?query` from 127.0.0.1, with `extra` added or replacing them. */
export const getParams = (query: string, extra: Record<string, string> = {}): Record<string, string> => ({
  GATEWAY_INTERFACE: 'CGI/1.1',
  REQUEST_METHOD: 'GET',
  QUERY_STRING: query,
  REMOTE_ADDR: '127.0.0.1',
  ...extra,
});

/** One request on a connection of its own to a responder on 127.0.0.1:`at` (a port) or at a Unix socket path: its answer, parsed. */
export async function answerOnce(at: number | string, params: Record<string, string>): Promise<ReturnType<typeof parseCgi>> {
  const client = await connectFcgi(typeof at === 'string' ? { path: at } : { port: at, host: '127.0.0.1' });
  try {
    return parseCgi((await client.request(params)).stdout);
  } finally {
    client.close();
  }
}

/** The status document of a responder started with `--status-path /status`, asked from 127.0.0.1. */
export async function statusOf(port: number): Promise<Status> {
  return JSON.parse((await answerOnce(port, getParams('', { REQUEST_URI: '/status' }))).body) as Status;
}
