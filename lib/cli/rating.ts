// `adrater rating DOMAIN RATING`: one rating by hand, checked like an imported row.
import type { Argv, CommandModule } from 'yargs';
import { CommandError } from '../core/errors.js';
import { log } from '../core/log.js';
import { sqlTime } from '../core/time.js';
import { ratingRow } from '../rater/rating.js';
import { withStore } from './options.js';
import type { Args } from './options.js';

export const ratingCommand = {
  command: 'rating <domain> <rating>',
  describe: 'set one rating by hand',
  builder: (y: Argv) =>
    y
      .positional('domain', { type: 'string' })
      .positional('rating', { type: 'string' })
      .option('info', { type: 'string', describe: 'text shown with the rating' })
      .option('rated', { type: 'string', describe: 'when it was rated (ISO 8601; default now)' })
      .option('expires', { type: 'string', describe: 'when it expires (ISO 8601; default never)' })
      .option('force', { type: 'boolean', default: false, describe: 'replace a newer stored rating' }),
  async handler(args: Args) {
    const row = ratingRow({ domain: args.domain, rating: args.rating, info: args.info, rated_at: args.rated ?? sqlTime(new Date()), expires_at: args.expires });
    if (typeof row === 'string') throw new CommandError(row);
    const result = await withStore(args, (store) => store.writeRatings([row], Boolean(args.force)));
    if (result.older > 0) throw new CommandError(`${row.domain} has a newer rating; use --force to replace it`);
    log(`${row.domain} rated ${row.rating}`);
  },
} as CommandModule;
