// Real web servers for the tests, each on a free loopback port with its own directory,
// started by the test that needs it and stopped by it.
import { spawn, execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, readdirSync, chmodSync, chownSync, rmSync, existsSync, openSync, closeSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Test } from 'tap';
import type { ScratchStore } from './stores.js';
import { ROOT } from './run.js';
import { freePort } from '../../lib/bench/responder.js';

export { freePort };

export const MODULES = '/usr/lib/apache2/modules';

export async function waitForPort(port: number, ms = 15000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => (s.end(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listening on 127.0.0.1:${port} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A scratch directory the web server's user (www-data) can read. */
export function serverDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

/**
 * Why this machine cannot make an append-only directory (`chattr +a`: needs root and ext4 or
 * the like), or false: for a test's `skip`.
 */
export function noAppendOnlyDir(): string | false {
  const probe = mkdtempSync(join(tmpdir(), 'adrater-chattr-'));
  try {
    execFileSync('chattr', ['+a', probe], { stdio: 'ignore' });
    execFileSync('chattr', ['-a', probe], { stdio: 'ignore' });
    return false;
  } catch {
    return 'no append-only directory here (chattr +a needs root and ext4 or the like)';
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

/**
 * A directory made append-only: entries can be made (a socket bound, a link) but never
 * removed. Made removable again, and removed, at the teardown.
 */
export function appendOnlyDir(t: Test, prefix: string): string {
  const dir = serverDir(prefix);
  execFileSync('chattr', ['+a', dir]);
  t.teardown(() => {
    execFileSync('chattr', ['-a', dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** A user's uid and gid on this machine (www-data, which the web servers run adrater as; nobody). */
export function idsOf(user: string): { uid: number; gid: number } {
  const [uid, gid] = ['-u', '-g'].map((flag) => Number(execFileSync('id', [flag, user]).toString().trim()));
  return { uid, gid };
}

/** The config file as the README says to install it: 640, group www-data. */
export function writeConfig(dir: string, settings: Record<string, unknown>): string {
  const path = join(dir, 'adrater.json');
  writeFileSync(path, JSON.stringify(settings));
  chmodSync(path, 0o640);
  chownSync(path, 0, idsOf('www-data').gid);
  return path;
}

/**
 * The config file of a web server's CGI runs (they run as www-data) for `store`, removed at
 * the test's end; on SQLite the scratch file and its WAL made writable to www-data too.
 */
export function cgiConfig(t: Test, store: ScratchStore, settings: Record<string, unknown> = {}): string {
  if (store.name === 'sqlite') {
    const dbDir = dirname(store.url.slice('sqlite:'.length));
    chmodSync(dbDir, 0o777);
    for (const f of readdirSync(dbDir)) chmodSync(join(dbDir, f), 0o666);
  }
  const dir = serverDir('adrater-config-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return writeConfig(dir, { db: store.url, ...settings });
}

export interface Server {
  port: number;
  dir: string;
  errorLog(): string;
  stop(): Promise<void>;
}

function stopper(child: ChildProcess, dir: string, signal: NodeJS.Signals = 'SIGTERM') {
  return () =>
    new Promise<void>((resolve) => {
      // (No pid: the program never started, and there is no process to wait for.)
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill(signal);
    }).then(() => {
      if (!process.env.ADRATER_KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
    });
}

/**
 * The server `child` once it listens on `port`. When it cannot start, exits first, or never
 * listens, it is stopped and its directory removed before the reason is thrown: a machine
 * without the web server gets failing tests, not scratch directories left behind.
 */
async function listening(child: ChildProcess, name: string, dir: string, port: number, signal: NodeJS.Signals): Promise<Server> {
  const stop = stopper(child, dir, signal);
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (err) => reject(new Error(`${name} did not start: ${err.message}`)));
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}): ${readLog(dir)}`)));
  });
  try {
    await Promise.race([waitForPort(port), failed]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { port, dir, errorLog: () => readLog(dir), stop };
}

/** Fails clearly when www-data, which Apache runs the bin as, cannot reach the checkout. */
function checkReachable(): void {
  try {
    execFileSync('runuser', ['-u', 'www-data', '--', 'test', '-x', join(ROOT, 'bin', 'adrater')]);
  } catch {
    throw new Error(`www-data cannot reach ${ROOT}: give o+x to its parent directories (.ci/run does)`);
  }
}

/** Apache in the foreground with the given MPM and site configuration. */
export async function startApache(mpm: 'event' | 'prefork', site: string, modules: string[]): Promise<Server> {
  checkReachable();
  const dir = serverDir('adrater-apache-');
  const port = await freePort();
  const conf = [
    `ServerRoot ${dir}`,
    `ServerName 127.0.0.1`,
    `Listen 127.0.0.1:${port}`,
    `PidFile ${dir}/httpd.pid`,
    `DefaultRuntimeDir ${dir}`,
    `ErrorLog ${dir}/error.log`,
    // core:notice names an Apache child that died of a signal (AH00052), taking its connections
    `LogLevel warn core:notice`,
    // what Apache read of each request and what it answered, in the order it answered
    `CustomLog ${dir}/access.log "%>s %r"`,
    `User www-data`,
    `Group www-data`,
    `LoadModule mpm_${mpm}_module ${MODULES}/mod_mpm_${mpm}.so`,
    ...['authz_core', 'alias', 'env', ...modules].map((m) => `LoadModule ${m}_module ${MODULES}/mod_${m}.so`),
    mpm === 'prefork' ? 'StartServers 2\nMinSpareServers 1\nMaxSpareServers 4' : 'StartServers 1\nThreadsPerChild 16',
    modules.includes('cgid') ? `ScriptSock ${dir}/cgid.sock` : '',
    modules.includes('fcgid') ? `FcgidIPCDir ${dir}/fcgid\nFcgidProcessTableFile ${dir}/fcgid_shm` : '',
    site,
  ].join('\n');
  writeFileSync(join(dir, 'httpd.conf'), conf + '\n');
  const child = spawn('/usr/sbin/apache2', ['-f', join(dir, 'httpd.conf'), '-DFOREGROUND'], {
    stdio: ['ignore', 'inherit', 'inherit'],
    detached: true, // its own process group: Apache signals its whole group on shutdown
    env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' },
  });
  return listening(child, 'apache2', dir, port, 'SIGTERM');
}

function readLog(dir: string): string {
  const path = join(dir, 'error.log');
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

/** The shipped example configuration with the checkout's and the test's paths put in. */
export function exampleConfig(name: string, replacements: Record<string, string>): string {
  let text = readFileSync(join(ROOT, 'cgi-bin', name), 'utf8');
  for (const [from, to] of Object.entries(replacements)) text = text.split(from).join(to);
  return text;
}

/** nginx in the foreground with the given http {} contents. */
export async function startNginx(http: string, port: number): Promise<Server> {
  const dir = serverDir('adrater-nginx-');
  const conf = [
    'user root;',
    'worker_processes 1;',
    'daemon off;',
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log warn;`,
    'events { worker_connections 256; }',
    'http {',
    '  access_log off;',
    ...['client_body', 'fastcgi', 'proxy', 'uwsgi', 'scgi'].map((n) => `  ${n}_temp_path ${dir}/${n};`),
    http,
    '}',
  ].join('\n');
  writeFileSync(join(dir, 'nginx.conf'), conf + '\n');
  const child = spawn('/usr/sbin/nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: ['ignore', 'inherit', 'inherit'], detached: true });
  return listening(child, 'nginx', dir, port, 'SIGQUIT');
}

/**
 * lighttpd in the foreground with the given configuration after its own (root, port, logs),
 * /run/lighttpd in it meaning its own directory. lighttpd opens its log and its FastCGI
 * sockets as www-data, after it drops root: the directory is www-data's.
 */
export async function startLighttpd(site: string): Promise<Server> {
  checkReachable();
  const dir = serverDir('adrater-lighttpd-');
  const { uid, gid } = idsOf('www-data');
  chownSync(dir, uid, gid);
  const port = await freePort();
  const conf = [
    `server.document-root = "${dir}"`,
    `server.bind = "127.0.0.1"`,
    `server.port = ${port}`,
    `server.username = "www-data"`,
    `server.groupname = "www-data"`,
    `server.errorlog = "${dir}/error.log"`,
    `server.pid-file = "${dir}/lighttpd.pid"`,
    site.split('/run/lighttpd').join(dir),
  ].join('\n');
  writeFileSync(join(dir, 'lighttpd.conf'), conf + '\n');
  const child = spawn('/usr/sbin/lighttpd', ['-D', '-f', join(dir, 'lighttpd.conf')], { stdio: ['ignore', 'inherit', 'inherit'], detached: true });
  return listening(child, 'lighttpd', dir, port, 'SIGTERM');
}

/** Caddy in the foreground with the given Caddyfile, its data and config under its own directory (no admin endpoint, no HTTPS). */
export async function startCaddy(caddyfile: string, port: number): Promise<Server> {
  const dir = serverDir('adrater-caddy-');
  writeFileSync(join(dir, 'Caddyfile'), `{\n\tadmin off\n\tauto_https off\n}\n${caddyfile}\n`);
  const log = openSync(join(dir, 'error.log'), 'w'); // Caddy logs to stderr
  const child = spawn('/usr/bin/caddy', ['run', '--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile'], {
    stdio: ['ignore', 'ignore', log],
    detached: true,
    env: { PATH: '/usr/bin:/bin', HOME: dir, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') },
  });
  closeSync(log);
  return listening(child, 'caddy', dir, port, 'SIGTERM');
}
