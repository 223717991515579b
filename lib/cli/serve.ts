// The commands that serve requests (`cgi`, `fcgi`, and options with no command). They only
// settle the settings: the transport is started by lib/main.ts, the one place a mode is run.
import type { Argv, CommandModule } from 'yargs';
import type { Settings } from '../core/settings.js';
import { settingsEnvironment } from '../core/settings.js';
import { responderOptions, settingsFrom } from './options.js';
import type { Args } from './options.js';

/**
 * Serves with these settings: as `mode`, or, without one, as a run with no arguments would.
 * `workerEnv`: the command line's settings as environment, for a supervisor's workers.
 */
export type Serve = (settings: Settings, mode?: 'cgi' | 'fastcgi', workerEnv?: Record<string, string>) => Promise<void>;

export function serveCommands(serve: Serve): CommandModule[] {
  return [
    {
      command: 'cgi',
      describe: 'answer one CGI request from the environment and stdin',
      handler: (args: Args) => serve(settingsFrom(args), 'cgi'),
    },
    {
      // Options but no command (adrater --db …): still a CGI request, or a FastCGI
      // responder when fd 0 is a listening socket.
      command: '$0',
      describe: false,
      handler: (args: Args) => serve(settingsFrom(args)),
    },
    {
      command: 'fcgi',
      describe: 'run a persistent FastCGI responder (fd 0, or --listen)',
      builder: (y: Argv) => responderOptions(y),
      handler: (args: Args) => serve(settingsFrom(args), 'fastcgi', settingsEnvironment(args)),
    },
  ] as CommandModule[];
}
