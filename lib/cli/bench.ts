// `adrater bench`: CGI against FastCGI on the same scratch database and requests.
import type { Argv, CommandModule } from 'yargs';
import { runBench } from '../bench/bench.js';
import { wholeNumbers } from './options.js';
import type { Args } from './options.js';

export const benchCommand = {
  command: 'bench',
  describe: 'CGI against FastCGI on the same scratch database and requests, and where a CGI run spends its time',
  builder: (y: Argv) =>
    wholeNumbers(y.option('json', { type: 'string', describe: 'also write the numbers to this JSON file' }), {
      requests: ['most CGI requests per CGI phase (the FastCGI phase runs for --duration)', 200],
      duration: ['most seconds per phase', 10],
      concurrency: ['CGI runs at once in the concurrent CGI phase; FastCGI keep-alive connections', 16],
      rows: ['synthetic ratings seeded into the scratch database', 10000],
      urls: ['URLs per request: all but one rated, one never seen', 3],
      soak: 'instead: drive the FastCGI responder for N requests and report its RSS every 100,000',
    }, 1).epilog(
      "The database is a scratch copy: an SQLite file in a temporary directory, or with --db mysql://… a scratch database on that server (created and dropped; needs CREATE and DROP). CGI runs get a web server's environment (CGI variables, PATH, ADRATER_DB), never the caller's.",
    ),
  handler: (args: Args) =>
    runBench({
      db: (args.db as string | undefined) ?? process.env.ADRATER_DB,
      rows: Number(args.rows),
      requests: Number(args.requests),
      duration: Number(args.duration),
      concurrency: Number(args.concurrency),
      urls: Number(args.urls),
      soak: args.soak as number | undefined,
      json: args.json as string | undefined,
    }),
} as CommandModule;
