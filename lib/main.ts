// Every run starts here (bin/adrater), and the mode is chosen here, once:
// - a command, when arguments were given outside a web server (GATEWAY_INTERFACE unset:
//   under one, argv holds an ISINDEX query's words, never options);
// - otherwise FastCGI when fd 0 is a listening socket (mod_fcgid, mod_fastcgi), else CGI.
// The `cgi` and `fcgi` commands, and a command line without a command (`adrater --db …`,
// which serves as above), call back into serve(): only this module starts a transport.
import { readFileSync, readlinkSync } from 'node:fs';
import { loadSettings } from './core/settings.js';
import type { Settings } from './core/settings.js';
import { SettingsError } from './core/errors.js';
import { log, setLogStyle } from './core/log.js';
import { loadDriver } from './store/open.js';
import { runCgi, runCgiUnconfigured } from './cgi/cgi.js';
import { msSinceStart } from './core/time.js';

export type Mode = 'cgi' | 'fastcgi' | 'command';

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

export function chooseMode(argv: string[], env: NodeJS.ProcessEnv): Mode {
  return env.GATEWAY_INTERFACE === undefined && argv.length > 0 ? 'command' : serveMode();
}

/** With no command: FastCGI when fd 0 is a listening socket, else CGI. */
function serveMode(): 'cgi' | 'fastcgi' {
  return stdinIsListening() ? 'fastcgi' : 'cgi';
}

/** Runs the mode; `started` is when the bin began (ms since the process started). */
export async function run(mode: Mode, argv: string[], started: number): Promise<void> {
  if (mode === 'command') {
    setLogStyle('command');
    const { runCli } = await import('./cli/cli.js');
    return runCli(argv, (settings, mode = serveMode()) => serve(mode, settings, started));
  }
  let settings: Settings;
  try {
    settings = loadSettings({}, process.env, log);
  } catch (err) {
    if (!(err instanceof SettingsError)) throw err;
    if (mode === 'cgi') return runCgiUnconfigured(process.env, err.message);
    log(`configuration error: ${err.message}`);
    process.exitCode = 2;
    return;
  }
  return serve(mode, settings, started);
}

async function serve(mode: 'cgi' | 'fastcgi', settings: Settings, started: number): Promise<void> {
  setLogStyle('server');
  if (mode === 'fastcgi') {
    const { runFastCgi } = await import('./fastcgi/server.js');
    return runFastCgi(settings);
  }
  await loadDriver(settings.db); // loaded here so that its cost shows as load, not connect
  return runCgi(process.env, settings, [
    ['startup', started],
    ['load', msSinceStart() - started],
  ]);
}
