// The command line (CONTRACT §6). Exit status: 0 success, 2 bad usage, 1 failure, each
// failure one line on stderr. Never loaded on the CGI path.
import yargs from 'yargs';
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { loadSettings, SettingsError } from './config.js';
import type { Settings } from './config.js';
import { openStore, isUnavailable } from './store.js';
import type { Store, QueueRow } from './store.js';
import { isoTime, sqlTime } from './time.js';
import { log } from './log.js';

/** A failure the user caused or can fix, reported as one line with exit 1. */
class CommandError extends Error {}

type Args = ArgumentsCamelCase<Record<string, unknown>>;

function settingsFrom(args: Args): Settings {
  return loadSettings(
    {
      db: args.db,
      maxUrls: args.maxUrls,
      maxBody: args.maxBody,
      retryAfter: args.retryAfter,
      listen: args.listen,
      maxRequests: args.maxRequests,
      maxConns: args.maxConns,
      maxReqs: args.maxReqs,
      poolSize: args.poolSize,
    },
    process.env,
    (line) => process.stderr.write(`adrater: warning: ${line}\n`),
  );
}

async function withStore<T>(args: Args, work: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(settingsFrom(args).db);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

async function cgiRequest(args: Args): Promise<void> {
  const { runCgi } = await import('./cgi.js');
  await runCgi(process.env, settingsFrom(args), []);
}

function queueLine(row: QueueRow): string {
  return JSON.stringify({
    domain: row.domain,
    priority: row.priority,
    first_requested: isoTime(row.firstRequested),
    last_requested: isoTime(row.lastRequested),
    requests: row.requests,
    source_ip: row.sourceIp,
  });
}

function writeOut(text: string): Promise<void> {
  return new Promise((resolve) => (text === '' ? resolve() : process.stdout.write(text, () => resolve())));
}

/**
 * Number options that must be whole and at least `min`: a usage error (exit 2) otherwise.
 * Each is described by its help text, or [help text, default].
 */
function wholeNumbers(y: Argv, options: Record<string, string | [string, number]>, min = 0): Argv {
  for (const [name, spec] of Object.entries(options)) {
    const [describe, fallback] = typeof spec === 'string' ? [spec, undefined] : spec;
    y = y.option(name, { type: 'number', describe, default: fallback }).coerce(name, (value: unknown) => {
      if (value !== undefined && (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min)) {
        throw new Error(`--${name} must be a whole number${min > 0 ? ` of ${min} or more` : ''}`);
      }
      return value;
    });
  }
  return y;
}

function globalOptions(y: Argv): Argv {
  return wholeNumbers(
    y.option('db', { type: 'string', describe: 'database: mysql://user:pass@host:port/db or sqlite:PATH (default: embedded SQLite in var/)' }),
    {
      'max-urls': 'most url parameters in one request (default 100)',
      'max-body': 'largest request body in bytes (default 65536)',
      'retry-after': 'Retry-After seconds on 503 (default 5)',
    },
  );
}

export async function runCli(argv: string[]): Promise<void> {
  const parser = globalOptions(yargs(argv))
    .scriptName('adrater')
    .usage('$0 [command]\n\nSite-rating look-ups over CGI or FastCGI, and the rater\'s tools.\nWith no command: a CGI request (or FastCGI when fd 0 is a listening socket).')
    .command('cgi', 'answer one CGI request from the environment and stdin', {}, cgiRequest)
    .command('$0', false, {}, async (args) => {
      // Options but no command (adrater --db …): still a CGI request, or a FastCGI
      // responder when fd 0 is a listening socket.
      const { stdinIsListening } = await import('./main.js');
      if (!stdinIsListening()) return cgiRequest(args);
      const { runFastCgi } = await import('./fcgi-server.js');
      await runFastCgi(settingsFrom(args));
    })
    .command(
      'fcgi',
      'run a persistent FastCGI responder (fd 0, or --listen)',
      (y) => {
        y.option('listen', { type: 'string', describe: 'HOST:PORT or /path.sock to listen on (default: the listening socket on fd 0)' });
        wholeNumbers(y, { 'max-requests': 'exit cleanly after N requests (0: never)' });
        return wholeNumbers(y, {
          'max-conns': 'most web-server connections at once (default 64)',
          'max-reqs': 'most requests in flight; more get 503 at once (default 256)',
          'pool-size': 'MySQL connections held open (default 4)',
        }, 1);
      },
      async (args) => {
        const { runFastCgi } = await import('./fcgi-server.js');
        await runFastCgi(settingsFrom(args));
      },
    )
    .command('db <action>', 'manage the schema: init (create) or migrate (upgrade)', (y) =>
      y.positional('action', { choices: ['init', 'migrate'] as const, describe: 'init or migrate' }),
      async (args) => {
        await withStore(args, async (store) => {
          const { from, to } = await store.migrate();
          const what = from === to ? `schema already at version ${to}` : `schema version ${from} -> ${to}`;
          process.stderr.write(`adrater: ${store.kind}: ${what}\n`);
        });
      },
    )
    .command(
      'import <file>',
      'load ratings from CSV (domain,rating,info,rated_at,expires_at) or JSON lines; - is stdin',
      (y) =>
        wholeNumbers(y
          .positional('file', { type: 'string', describe: 'CSV or JSON-lines file, or - for stdin' })
          .option('format', { choices: ['csv', 'jsonl'] as const, describe: 'input format (default: by extension; .jsonl/.ndjson/.json are JSON lines)' })
          .option('force', { type: 'boolean', default: false, describe: 'replace ratings even when the stored one is newer' })
          .option('strict', { type: 'boolean', default: false, describe: 'refuse the whole file at its first bad row, writing nothing' }),
          { batch: ['rows per transaction', 2000] }, 1),
      async (args) => {
        const { importRatings, formatOf } = await import('./importer.js');
        // yargs-parser turns a lone "-" positional into "" (or true): that is stdin.
        const file = args.file === '' || (args.file as unknown) === true ? '-' : String(args.file);
        const tty = process.stderr.isTTY;
        let lastProgress = 0;
        const summary = await withStore(args, (store) =>
          importRatings(store, {
            file,
            format: formatOf(file, args.format as string | undefined),
            force: Boolean(args.force),
            strict: Boolean(args.strict),
            batchSize: Number(args.batch),
            onRefused: (line, reason) => process.stderr.write(`adrater: line ${line}: refused: ${reason}\n`),
            onProgress: tty
              ? (read) => {
                  if (Date.now() - lastProgress < 500) return;
                  lastProgress = Date.now();
                  process.stderr.write(`\radrater: ${read} rows read…`);
                }
              : undefined,
          }),
        );
        if (tty && lastProgress) process.stderr.write('\r\x1b[K');
        process.stderr.write(
          `adrater: ${summary.read} rows read, ${summary.taken} taken, ${summary.older} ignored as older, ${summary.refused} refused\n`,
        );
        if (summary.refused > 0) process.exitCode = 1;
      },
    )
    .command(
      'queue',
      'list the rating queue by priority then age, as JSON lines',
      (y) =>
        wholeNumbers(y.option('claim', { type: 'boolean', default: false, describe: 'remove the rows printed (safe with concurrent claimers)' }), {
          limit: ['most rows to list', 100],
          'min-priority': ['only rows of at least this priority', 0],
        }),
      async (args) => {
        const query = { limit: Number(args.limit), minPriority: Number(args.minPriority) };
        const rows = await withStore(args, (store) => (args.claim ? store.claimQueue(query) : store.listQueue(query)));
        await writeOut(rows.map((r) => queueLine(r) + '\n').join(''));
      },
    )
    .command(
      'rating <domain> <rating>',
      'set one rating by hand',
      (y) =>
        y
          .positional('domain', { type: 'string' })
          .positional('rating', { type: 'string' })
          .option('info', { type: 'string', describe: 'text shown with the rating' })
          .option('rated', { type: 'string', describe: 'when it was rated (ISO 8601; default now)' })
          .option('expires', { type: 'string', describe: 'when it expires (ISO 8601; default never)' })
          .option('force', { type: 'boolean', default: false, describe: 'replace a newer stored rating' }),
      async (args) => {
        const { ratingRow } = await import('./ratings.js');
        const row = ratingRow({
          domain: args.domain,
          rating: args.rating,
          info: args.info,
          rated_at: args.rated ?? sqlTime(new Date()),
          expires_at: args.expires,
        });
        if (typeof row === 'string') throw new CommandError(row);
        const result = await withStore(args, (store) => store.writeRatings([row], Boolean(args.force)));
        if (result.older > 0) throw new CommandError(`${row.domain} has a newer rating; use --force to replace it`);
        process.stderr.write(`adrater: ${row.domain} rated ${row.rating}\n`);
      },
    )
    .command(
      'bench',
      'CGI against FastCGI on the same scratch database and requests, and where a CGI run spends its time',
      (y) =>
        wholeNumbers(y.option('json', { type: 'string', describe: 'also write the numbers to this JSON file' }), {
          requests: ['most CGI requests per CGI phase (the FastCGI phase runs for --duration)', 200],
          duration: ['most seconds per phase', 10],
          concurrency: ['CGI runs at once in the concurrent CGI phase; FastCGI keep-alive connections', 16],
          rows: ['synthetic ratings seeded into the scratch database', 10000],
          urls: ['URLs per request: all but one rated, one never seen', 3],
          soak: 'instead: drive the FastCGI responder for N requests and report its RSS every 100,000',
        }, 1)
          .epilog('The database is a scratch copy: an SQLite file in a temporary directory, or with --db mysql://… a scratch database on that server (created and dropped; needs CREATE and DROP). CGI runs get a web server\'s environment (CGI variables, PATH, ADRATER_DB), never the caller\'s.'),
      async (args) => {
        const { runBench } = await import('./bench.js');
        await runBench({
          db: (args.db as string | undefined) ?? process.env.ADRATER_DB,
          rows: Number(args.rows),
          requests: Number(args.requests),
          duration: Number(args.duration),
          concurrency: Number(args.concurrency),
          urls: Number(args.urls),
          soak: args.soak as number | undefined,
          json: args.json as string | undefined,
          progress: Boolean(process.stderr.isTTY),
        });
      },
    )
    .strict()
    .help()
    .alias('help', 'h')
    .version(false)
    .wrap(Math.min(100, process.stdout.columns || 100))
    .fail((message, err) => {
      // yargs reports its own parse and coerce failures as YError: those are usage errors.
      if (err && err.name !== 'YError') throw err;
      throw new UsageError(message || err.message);
    });

  try {
    await parser.parseAsync();
  } catch (err) {
    process.exitCode = exitFor(err);
  }
}

class UsageError extends Error {}

function exitFor(err: unknown): number {
  if (err instanceof UsageError) {
    process.stderr.write(`adrater: ${err.message.split('\n')[0]} (see adrater --help)\n`);
    return 2;
  }
  if (err instanceof SettingsError) {
    process.stderr.write(`adrater: ${err.message}\n`);
    return 2;
  }
  const e = err as Error;
  if (err instanceof CommandError || isUnavailable(err) || e?.constructor?.name === 'ImportError') {
    process.stderr.write(`adrater: ${e.message.split('\n')[0]}\n`);
    return 1;
  }
  // Unexpected: still one line (CONTRACT §6); the stack only when asked for.
  if (process.env.ADRATER_DEBUG) log(`error: ${e?.stack ?? String(err)}`);
  const hint = (err as { code?: string })?.code === 'ER_NO_SUCH_TABLE' ? ' (run adrater db init)' : '';
  process.stderr.write(`adrater: ${(e?.message ?? String(err)).split('\n')[0]}${hint}\n`);
  return 1;
}
