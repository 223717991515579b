// A FastCGI responder of the real bin, listening where the test says.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { BIN, WEB_SERVER_PATH } from './run.js';
import { freePort, waitForPort } from './servers.js';
import { existsSync } from 'node:fs';

export interface Responder {
  child: ChildProcess;
  port?: number;
  path?: string;
  stderr(): string;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startResponder(options: { db: string; path?: string; args?: string[]; env?: Record<string, string> }): Promise<Responder> {
  const port = options.path ? undefined : await freePort();
  const listen = options.path ?? `127.0.0.1:${port}`;
  const assignments = Object.entries({ PATH: WEB_SERVER_PATH, ADRATER_DB: options.db, ...options.env }).map(([k, v]) => `${k}=${v}`);
  const child = spawn('/usr/bin/env', ['-i', ...assignments, BIN, 'fcgi', '--listen', listen, ...(options.args ?? [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  let out = '';
  child.stderr!.on('data', (d) => (err += d));
  child.stdout!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      if (out) err += `\n!!! the responder wrote to stdout: ${out}`;
      resolve(code);
    }),
  );
  const until = Date.now() + 10000;
  while (!/ready on/.test(err)) {
    if (child.exitCode !== null || Date.now() > until) throw new Error(`responder did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  if (port) await waitForPort(port);
  else if (!existsSync(listen)) throw new Error(`no socket at ${listen}`);
  return {
    child,
    port,
    path: options.path,
    stderr: () => err,
    exited,
    stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}
