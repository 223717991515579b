// `adrater import FILE`: ratings from CSV or JSON lines, a summary line, exit 1 if any row was refused.
import type { Argv, CommandModule } from 'yargs';
import { log, progressLine } from '../core/log.js';
import { importRatings, formatOf } from '../rater/import.js';
import { wholeNumbers, withStore } from './options.js';
import type { Args } from './options.js';

export const importCommand = {
  command: 'import <file>',
  describe: 'load ratings from CSV (domain,rating,info,rated_at,expires_at) or JSON lines; - is stdin',
  builder: (y: Argv) =>
    wholeNumbers(
      y
        .positional('file', { type: 'string', describe: 'CSV or JSON-lines file, or - for stdin' })
        .option('format', { choices: ['csv', 'jsonl'] as const, describe: 'input format (default: by extension; .jsonl/.ndjson/.json are JSON lines)' })
        .option('force', { type: 'boolean', default: false, describe: 'replace ratings even when the stored one is newer' })
        .option('strict', { type: 'boolean', default: false, describe: 'refuse the whole file at its first bad row, writing nothing' }),
      { batch: ['rows per transaction', 2000] },
      1,
    ),
  async handler(args: Args) {
    // yargs-parser turns a lone "-" positional into "" (or true): that is stdin.
    const file = args.file === '' || (args.file as unknown) === true ? '-' : String(args.file);
    const progress = progressLine();
    const summary = await withStore(args, (store) =>
      importRatings(store, {
        file,
        format: formatOf(file, args.format as string | undefined),
        force: Boolean(args.force),
        strict: Boolean(args.strict),
        batchSize: Number(args.batch),
        onRefused: (line, reason) => {
          progress.clear();
          log(`line ${line}: refused: ${reason}`);
        },
        onProgress: (read) => progress.show(`${read} rows read…`),
      }),
    );
    progress.clear();
    log(`${summary.read} rows read, ${summary.taken} taken, ${summary.older} ignored as older, ${summary.refused} refused`);
    if (summary.refused > 0) process.exitCode = 1;
  },
} as CommandModule;
