// The command line (CONTRACT §6): each command in its own module. Exit status: 0 success,
// 2 bad usage, 1 failure, each failure one line on stderr (ADRATER_DEBUG=1 adds the stack
// of an unexpected one). Never loaded on the CGI path.
import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import { DatabaseError, SettingsError, UsageError, CommandError, UnavailableError } from '../core/errors.js';
import { log } from '../core/log.js';
import { globalOptions } from './options.js';
import { serveCommands } from './serve.js';
import type { Serve } from './serve.js';
import { dbCommand } from './db.js';
import { importCommand } from './import.js';
import { queueCommand } from './queue.js';
import { ratingCommand } from './rating.js';
import { benchCommand } from './bench.js';

export async function runCli(argv: string[], serve: Serve): Promise<void> {
  hidePasswords(argv);
  const parser = globalOptions(yargs(argv))
    .scriptName('adrater')
    .usage("$0 [command]\n\nSite-rating look-ups over CGI or FastCGI, and the rater's tools.\nWith no command: a CGI request (or FastCGI when fd 0 is a listening socket).")
    .command(serveCommands(serve))
    .command([dbCommand, importCommand, queueCommand, ratingCommand, benchCommand])
    .strict()
    .help()
    .alias('help', 'h')
    .version(false)
    .wrap(Math.min(100, process.stdout.columns || 100))
    .fail((message, err) => {
      // yargs reports its own parse failures as YError, and a coerce's own error as itself.
      if (err && err.name !== 'YError' && !(err instanceof UsageError)) throw err;
      throw new UsageError(message || err.message);
    });
  try {
    await parser.parseAsync();
  } catch (err) {
    process.exitCode = exitFor(err);
  }
}

function exitFor(err: unknown): number {
  const firstLine = (text: string) => text.split('\n')[0];
  if (err instanceof UsageError) {
    log(`${firstLine(err.message)} (see adrater --help)`);
    return 2;
  }
  if (err instanceof SettingsError) {
    log(err.message);
    return 2;
  }
  if (err instanceof CommandError || err instanceof UnavailableError || err instanceof DatabaseError) {
    log(firstLine(err.message));
    return 1;
  }
  // Unexpected: still one line (CONTRACT §6); the stack only when asked for.
  const e = err as Error;
  if (process.env.ADRATER_DEBUG) log(`error: ${e?.stack ?? String(err)}`);
  log(firstLine(e?.message ?? String(err)));
  return 1;
}

// The password of a database URL: mysql://user:PASSWORD@host… (up to the last "@", should
// the password hold one unencoded: the URL is refused then, but ps shows it meanwhile).
const URL_PASSWORD = /((?:mysql|mariadb):\/\/[^:@/]*:)(.+)@/gi;

/**
 * A password given on the command line (`--db mysql://user:PASSWORD@…`) shows in `ps` to
 * every local user for as long as the process runs. It is overwritten there with x's, as
 * MySQL's own clients do, and a warning says where it belongs. (It could be read while the
 * process started, and it stays in the shell's history.) Setting the title renames the
 * process too: its short name becomes the title's first 15 characters.
 */
function hidePasswords(argv: string[]): void {
  const mask = (arg: string) => arg.replace(URL_PASSWORD, (_, before: string, password: string) => `${before}${'x'.repeat(password.length)}@`);
  if (argv.every((arg) => mask(arg) === arg)) return;
  let words: string[];
  try {
    words = readFileSync('/proc/self/cmdline', 'utf8').split('\0').slice(0, -1); // as exec'd: the title takes its room
  } catch {
    words = [process.argv0, ...process.execArgv, ...process.argv.slice(1)];
  }
  process.title = words.map(mask).join(' ');
  log('warning: a database password on the command line can be read by other users (ps); put the URL in ADRATER_DB or in the file ADRATER_CONFIG names');
}
