// What the commands share: whole-number options, the service settings as options (their
// help showing the settings' own defaults), and a store opened for one command.
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { loadSettings, DEFAULTS } from '../core/settings.js';
import type { Settings } from '../core/settings.js';
import { UsageError } from '../core/errors.js';
import { log } from '../core/log.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/store.js';

export type Args = ArgumentsCamelCase<Record<string, unknown>>;

/**
 * Number options that must be whole and at least `min`: a usage error (exit 2) otherwise.
 * Each is described by its help text, or [help text, default].
 */
export function wholeNumbers(y: Argv, options: Record<string, string | [string, number]>, min = 0): Argv {
  for (const [name, spec] of Object.entries(options)) {
    const [describe, fallback] = typeof spec === 'string' ? [spec, undefined] : spec;
    y = y.option(name, { type: 'number', describe, default: fallback }).coerce(name, (value: unknown) => {
      if (value !== undefined && (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min)) {
        throw new UsageError(`--${name} must be a whole number${min > 0 ? ` of ${min} or more` : ''}`);
      }
      return value;
    });
  }
  return y;
}

/** The options every command takes: the database and the request limits. */
export function globalOptions(y: Argv): Argv {
  return wholeNumbers(
    y
      .option('db', { type: 'string', describe: 'database: mysql://user:pass@host:port[,host:port…]/db (servers tried in order) or sqlite:PATH (default: embedded SQLite in var/)' })
      .option('db-read', { type: 'string', describe: 'look-ups read from here (a replica, the nearest node; several servers allowed); queue writes go to --db' }),
    {
      'max-urls': `most url parameters in one request (default ${DEFAULTS.maxUrls})`,
      'max-body': `largest request body in bytes (default ${DEFAULTS.maxBody})`,
      'retry-after': `Retry-After seconds on 503 (default ${DEFAULTS.retryAfter})`,
    },
  );
}

/** The options of a persistent responder. */
export function responderOptions(y: Argv): Argv {
  y.option('listen', { type: 'string', describe: 'HOST:PORT or /path.sock to listen on (default: the listening socket on fd 0)' });
  wholeNumbers(y, { 'max-requests': 'exit cleanly after N requests (0: never)' });
  wholeNumbers(y, {
    'max-reqs': `most requests in flight; more get 503 at once (default ${DEFAULTS.maxReqs})`,
    'pool-size': `MySQL connections held open (default ${DEFAULTS.poolSize})`,
    'read-timeout': `seconds without a byte inside a record or request before the connection is closed (default ${DEFAULTS.readTimeout})`,
    backlog: `listen backlog: connections the kernel holds while the responder is busy (default ${DEFAULTS.backlog})`,
  }, 1);
  wholeNumbers(y, {
    workers: `worker processes under a supervisor; 1 is a single process, 0 one per CPU (default ${DEFAULTS.workers})`,
    'slow-ms': 'log each request slower than this many ms, with its phases (0: off)',
  });
  y.option('status-path', { type: 'string', describe: 'URL path that answers with the status (JSON; ?format=prometheus for Prometheus)' });
  return y.option('status-allow', { type: 'string', describe: `addresses allowed to read the status (default ${DEFAULTS.statusAllow})` });
}

/** The settings, the command line taking precedence over the environment and the file. */
export function settingsFrom(args: Args): Settings {
  return loadSettings(args, process.env, (line) => log(`warning: ${line}`));
}

export async function withStore<T>(args: Args, work: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(settingsFrom(args).db);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

/** Writes to stdout and waits until it is flushed. */
export function writeOut(text: string): Promise<void> {
  return new Promise((resolve) => (text === '' ? resolve() : process.stdout.write(text, () => resolve())));
}
