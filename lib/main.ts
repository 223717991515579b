// Which life this run lives: FastCGI when fd 0 is a listening socket, CGI when a web
// server set GATEWAY_INTERFACE (argv then holds ISINDEX words, never options) or when no
// arguments were given, the command line otherwise. This module and what it imports are
// the CGI path: bundled into dist/cgi/ so that a CGI run loads one file (see bin/adrater).
import { readFileSync, readlinkSync } from 'node:fs';
import { runCgi, cgiFailure } from './cgi.js';
import { loadSettings, SettingsError } from './config.js';
import { log } from './log.js';

/**
 * True when fd 0 is a listening socket (mod_fcgid, mod_fastcgi). A connected socket on
 * fd 0 is CGI under mod_cgid. Linux lists each socket's state in /proc/net.
 */
export function stdinIsListening(): boolean {
  let target: string;
  try {
    target = readlinkSync('/proc/self/fd/0');
  } catch {
    return false;
  }
  const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
  if (!inode) return false;
  const table = (name: string) => {
    try {
      return readFileSync(`/proc/self/net/${name}`, 'latin1').split('\n').slice(1);
    } catch {
      return [];
    }
  };
  // unix: Num RefCount Protocol Flags Type St Inode Path; flag 0x10000 is __SO_ACCEPTCON.
  for (const line of table('unix')) {
    const f = line.trim().split(/\s+/);
    if (f[6] === inode) return (parseInt(f[3], 16) & 0x10000) !== 0;
  }
  // tcp, tcp6: sl local remote st ... inode (field 9); st 0A is LISTEN.
  for (const line of [...table('tcp'), ...table('tcp6')]) {
    const f = line.trim().split(/\s+/);
    if (f[9] === inode) return f[3] === '0A';
  }
  return false;
}

/** cgi: one request; fcgi: a web server spawned us on a listening socket; cli: a command. */
export function chooseLife(argv: string[], env: NodeJS.ProcessEnv): 'cgi' | 'fcgi' | 'cli' {
  if (env.GATEWAY_INTERFACE === undefined && argv.length > 0) return 'cli';
  return stdinIsListening() ? 'fcgi' : 'cgi';
}

/** One CGI request; `started` is when the bin began (ms since the process started). */
export async function runCgiMain(started: number): Promise<void> {
  const env = process.env;
  let settings;
  try {
    settings = loadSettings({}, env, log);
  } catch (err) {
    if (!(err instanceof SettingsError)) throw err;
    log(`configuration error: ${err.message}`);
    await cgiFailure(env);
    return;
  }
  // The driver is loaded here so that its cost shows as load, not connect.
  if (settings.db.startsWith('sqlite:')) await import('./store-sqlite.js');
  else await import('./store-mysql.js');
  const timing: Array<[string, number]> = [
    ['startup', started],
    ['load', performance.now() - started],
  ];
  await runCgi(env, settings, timing);
}
