// Spawns the real bin the way a web server or a user would, with only the environment
// given (never the test runner's: NODE_EXTRA_CA_CERTS and friends stay out).
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BIN, WEB_SERVER_PATH } from '../../lib/bench/responder.js';

export { BIN, WEB_SERVER_PATH };
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** A child's exit code and all it wrote, once it has closed its output. */
export function collect(child: ChildProcess): Promise<Run> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    let err = '';
    child.stdout!.on('data', (d) => out.push(d));
    child.stderr!.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: err }));
  });
}

export function run(args: string[], env: Record<string, string>, input?: Buffer | string): Promise<Run> {
  // env -i: tap injects its loader into children's environments; a web server would not.
  const assignments = Object.entries({ PATH: WEB_SERVER_PATH, ...env }).map(([k, v]) => `${k}=${v}`);
  const child = spawn('/usr/bin/env', ['-i', ...assignments, BIN, ...args]);
  child.stdin.on('error', () => {}); // the child may exit without reading everything
  child.stdin.end(input ?? '');
  return collect(child);
}

export interface CgiAnswer {
  code: number | null;
  status: number;
  headers: Record<string, string>;
  body: string;
  stderr: string;
}

export function parseCgi(raw: Buffer): { status: number; headers: Record<string, string>; body: string } {
  const text = raw.toString('utf8');
  const split = text.indexOf('\r\n\r\n');
  if (split < 0) throw new Error(`no CGI header block in: ${JSON.stringify(text.slice(0, 200))}`);
  const headers: Record<string, string> = {};
  for (const line of text.slice(0, split).split('\r\n')) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(headers.status?.split(' ')[0] ?? 200), headers, body: text.slice(split + 4) };
}

/** One CGI request: method, query and body as a web server would pass them. */
export async function cgi(
  db: string,
  request: {
    method?: string;
    query?: string;
    body?: string | Buffer;
    type?: string;
    /** The body as Apache passes a chunked one (or an HTTP/2 one without a length): no CONTENT_LENGTH, HTTP_TRANSFER_ENCODING. */
    chunked?: boolean;
    env?: Record<string, string>;
    args?: string[];
  },
): Promise<CgiAnswer> {
  const body = request.body === undefined ? undefined : Buffer.from(request.body);
  const length: Record<string, string> = request.chunked ? { HTTP_TRANSFER_ENCODING: 'chunked' } : { CONTENT_LENGTH: String(body?.length) };
  const env: Record<string, string> = {
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: 'HTTP/1.1',
    REQUEST_METHOD: request.method ?? 'GET',
    QUERY_STRING: request.query ?? '',
    REMOTE_ADDR: '192.0.2.7',
    ADRATER_DB: db,
    ...(body ? { ...length, CONTENT_TYPE: request.type ?? 'application/x-www-form-urlencoded' } : {}),
    ...request.env,
  };
  const result = await run(request.args ?? [], env, body);
  return { code: result.code, stderr: result.stderr, ...parseCgi(result.stdout) };
}

/**
 * One CGI GET of an installed script (a copy, an npm install), as a web server runs it:
 * only the CGI variables, PATH and ADRATER_DB; as `user` when given (runuser).
 */
export function cgiGetAs(script: string, db: string, query: string, user?: string): CgiAnswer {
  const env = [`PATH=${WEB_SERVER_PATH}`, 'GATEWAY_INTERFACE=CGI/1.1', 'REQUEST_METHOD=GET', `QUERY_STRING=${query}`, 'REMOTE_ADDR=192.0.2.9', `ADRATER_DB=${db}`];
  const command = user ? ['runuser', '-u', user, '--', '/usr/bin/env', '-i', ...env, script] : ['/usr/bin/env', '-i', ...env, script];
  const result = spawnSync(command[0], command.slice(1), { input: '' });
  return { code: result.status, stderr: result.stderr.toString(), ...parseCgi(result.stdout) };
}
