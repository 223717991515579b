// The real bin started as a FastCGI responder, the way bench and the tests both start it:
// with only the environment given (`env -i`: never the caller's, where NODE_EXTRA_CA_CERTS
// alone adds ~50 ms to every Node start and a test runner injects its loader).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const BIN = join(import.meta.dirname, '..', '..', 'bin', 'adrater');
/** What Apache and nginx give a CGI script as PATH. */
export const WEB_SERVER_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const READY_MS = 10_000;

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** A process's resident set, in MB (Linux). */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

export interface ResponderOptions {
  /** The whole environment (PATH is added when missing). */
  env: Record<string, string>;
  /** A Unix socket path; default a free TCP port on 127.0.0.1. */
  path?: string;
  /** More arguments for `adrater fcgi`. */
  args?: string[];
  /** Flags for node itself (a --require, for instance): then node runs the bin, not its `#!` line. */
  nodeFlags?: string[];
  /** A command that runs the responder, such as ['prlimit', '--nofile=256', '--']. */
  launcher?: string[];
  /** The bin of another install (a test's copy); default this checkout's. */
  bin?: string;
}

export interface Responder {
  child: ChildProcess;
  pid: number;
  port?: number;
  path?: string;
  /** Everything it wrote to stderr so far (and a note if it ever wrote to stdout). */
  stderr(): string;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

function waitForPort(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => (s.end(), resolve()));
    s.on('error', reject);
  });
}

export async function startResponder(options: ResponderOptions): Promise<Responder> {
  const port = options.path ? undefined : await freePort();
  const listen = options.path ?? `127.0.0.1:${port}`;
  const assignments = Object.entries({ PATH: WEB_SERVER_PATH, ...options.env }).map(([k, v]) => `${k}=${v}`);
  // Without flags of its own, the bin starts as a web server or a shell would: through its `#!` line.
  const node = options.nodeFlags ? [process.execPath, ...options.nodeFlags] : [];
  const command = [...assignments, ...node, options.bin ?? BIN, 'fcgi', '--listen', listen, ...(options.args ?? [])];
  const [program, ...args] = [...(options.launcher ?? []), '/usr/bin/env', '-i', ...command];
  const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
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
  const until = Date.now() + READY_MS;
  while (!/ready on/.test(err)) {
    if (child.exitCode !== null || Date.now() > until) throw new Error(`the FastCGI responder did not start: ${err.trim()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  if (port) await waitForPort(port);
  return {
    child,
    pid: child.pid!,
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
