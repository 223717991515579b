// `adrater queue`: the rating queue by priority then age, as JSON lines; --claim removes what it prints.
import type { Argv, CommandModule } from 'yargs';
import { isoTime } from '../core/time.js';
import type { QueueRow } from '../store/store.js';
import { wholeNumbers, withStore, writeOut } from './options.js';
import type { Args } from './options.js';

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

export const queueCommand = {
  command: 'queue',
  describe: 'list the rating queue by priority then age, as JSON lines',
  builder: (y: Argv) =>
    wholeNumbers(y.option('claim', { type: 'boolean', default: false, describe: 'remove the rows printed (safe with concurrent claimers)' }), {
      limit: ['most rows to list', 100],
      'min-priority': ['only rows of at least this priority', 0],
    }),
  async handler(args: Args) {
    const query = { limit: Number(args.limit), minPriority: Number(args.minPriority) };
    const rows = await withStore(args, (store) => (args.claim ? store.claimQueue(query) : store.listQueue(query)));
    await writeOut(rows.map((r) => queueLine(r) + '\n').join(''));
  },
} as CommandModule;
