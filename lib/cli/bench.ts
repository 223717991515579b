// `adrater bench`: CGI against FastCGI on the same scratch database and requests;
// `adrater bench report A.json [B.json]`: the HTML report from saved results.
import { readFileSync, writeFileSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { runBench } from '../bench/bench.js';
import { renderReport } from '../bench/report.js';
import type { BenchResult } from '../bench/stats.js';
import { CommandError } from '../core/errors.js';
import { log } from '../core/log.js';
import { wholeNumbers } from './options.js';
import type { Args } from './options.js';

/** A result saved by `bench --json`, checked enough that the report can draw it. */
function readResult(file: string): BenchResult {
  let result: BenchResult;
  try {
    result = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CommandError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'not JSON'}`);
  }
  if (!Array.isArray(result?.modes) || !result.modes.every((m) => Array.isArray(m.percentiles)) || !result.machine || !result.breakdown) {
    throw new CommandError(`${file} is not a result of adrater bench --json (or one from a version before reports)`);
  }
  return result;
}

const reportCommand = {
  command: 'report <first> [second]',
  describe: 'the HTML report of results saved with --json; two files side by side (before and after)',
  builder: (y: Argv) =>
    y
      .positional('first', { type: 'string', describe: 'a result saved by adrater bench --json' })
      .positional('second', { type: 'string', describe: 'another, to compare with the first' })
      .option('out', { type: 'string', demandOption: true, describe: 'the HTML file to write' }),
  handler(args: Args) {
    const runs = [args.first, args.second].filter((f): f is string => typeof f === 'string').map(readResult);
    writeFileSync(String(args.out), renderReport(runs));
    log(`report of ${runs.length} run${runs.length > 1 ? 's' : ''} written to ${args.out}`);
  },
} as CommandModule;

export const benchCommand = {
  command: 'bench',
  describe: 'CGI against FastCGI on the same scratch database and requests, and where a CGI run spends its time',
  builder: (y: Argv) =>
    wholeNumbers(
      y
        .command(reportCommand)
        .option('json', { type: 'string', describe: 'also write the numbers to this JSON file' })
        .option('report', { type: 'string', describe: 'also write the comparison as a self-contained HTML page' }),
      {
        requests: ['most CGI requests per CGI phase (the FastCGI phase runs for --duration)', 200],
        duration: ['most seconds per phase', 10],
        concurrency: ['CGI runs at once in the concurrent CGI phase; FastCGI keep-alive connections', 16],
        rows: ['synthetic ratings seeded into the scratch database', 10000],
        urls: ['URLs per request: all but one rated, one never seen', 3],
        soak: 'instead: drive the FastCGI responder for N requests and report its RSS every 100,000',
      },
      1,
    ).epilog(
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
      report: args.report as string | undefined,
    }),
} as CommandModule;
