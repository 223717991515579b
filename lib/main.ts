// Every run starts here (bin/adrater), and the mode is chosen here, once:
// - a command, when arguments were given outside a web server (GATEWAY_INTERFACE unset:
//   under one, argv holds an ISINDEX query's words, never options);
// - otherwise FastCGI when fd 0 is a listening socket (mod_fcgid, mod_fastcgi), else CGI.
// The `cgi` and `fcgi` commands, and a command line without a command (`adrater --db …`,
// which serves as above), call back into serve(): only this module starts a transport.
import { loadSettings } from './core/settings.js';
import type { Settings } from './core/settings.js';
import { SettingsError } from './core/errors.js';
import { log, setLogStyle } from './core/log.js';
import { loadDriver } from './store/open.js';
import { runCgi, runCgiUnconfigured } from './cgi/cgi.js';
import { msSinceStart } from './core/time.js';
import { isSupervisedWorker, stdinIsListening, systemdSocket } from './fastcgi/inherited.js';

export type Mode = 'cgi' | 'fastcgi' | 'command';

export function chooseMode(argv: string[], env: NodeJS.ProcessEnv): Mode {
  return env.GATEWAY_INTERFACE === undefined && argv.length > 0 ? 'command' : serveMode();
}

/** With no command: FastCGI when fd 0 is a listening socket (or systemd passed one, or a supervisor started this worker), else CGI. */
function serveMode(): 'cgi' | 'fastcgi' {
  return isSupervisedWorker() || systemdSocket() || stdinIsListening() ? 'fastcgi' : 'cgi';
}

/**
 * Runs the mode; `started` is when the bin began (ms since the process started);
 * `firstAnswered` is called once a responder has answered its first request (the bin then
 * writes the code caches it had none of).
 */
export async function run(mode: Mode, argv: string[], started: number, firstAnswered: () => void): Promise<void> {
  if (mode === 'command') {
    setLogStyle('command');
    const { runCli } = await import('./cli/cli.js');
    return runCli(argv, (settings, mode = serveMode(), workerEnv = {}) => serve(mode, settings, started, firstAnswered, workerEnv));
  }
  let settings: Settings;
  try {
    settings = loadSettings({}, process.env, log);
  } catch (err) {
    if (!(err instanceof SettingsError)) throw err;
    if (mode === 'cgi') return runCgiUnconfigured(process.env, err.message);
    return refuseConfiguration(err);
  }
  return serve(mode, settings, started, firstAnswered);
}

/** A responder's start refused for its settings: one line in the web server's log, exit 2. */
function refuseConfiguration(err: SettingsError): void {
  log(`configuration error: ${err.message}`);
  process.exitCode = 2;
}

/** Runs a transport; `workerEnv` carries a command line's settings to a supervisor's workers. */
async function serve(mode: 'cgi' | 'fastcgi', settings: Settings, started: number, firstAnswered: () => void, workerEnv: Record<string, string> = {}): Promise<void> {
  setLogStyle('server');
  if (mode === 'fastcgi' && settings.workers !== 1 && !isSupervisedWorker()) {
    const { runSupervisor } = await import('./fastcgi/responder.js');
    return runSupervisor(settings, workerEnv);
  }
  if (mode === 'fastcgi') {
    const { runFastCgi } = await import('./fastcgi/responder.js');
    // A database URL that cannot be read is found as the responder starts (lib/fastcgi/server.ts).
    return runFastCgi(settings, firstAnswered).catch((err: unknown) => {
      if (!(err instanceof SettingsError)) throw err;
      refuseConfiguration(err);
    });
  }
  // Loaded here so that its cost shows as load, not connect. A driver that cannot load (a
  // broken build) fails again when the handler opens the store, which answers it (500).
  await loadDriver(settings.db, true).catch(() => {});
  return runCgi(process.env, settings, [
    ['startup', started],
    ['load', msSinceStart() - started],
  ]);
}
