// `adrater db init` / `db migrate`: create or upgrade the schema (both apply what is missing).
import type { Argv, CommandModule } from 'yargs';
import { log } from '../core/log.js';
import { withStore } from './options.js';
import type { Args } from './options.js';

export const dbCommand = {
  command: 'db <action>',
  describe: 'manage the schema: init (create) or migrate (upgrade)',
  builder: (y: Argv) => y.positional('action', { choices: ['init', 'migrate'] as const, describe: 'init or migrate' }),
  handler: (args: Args) =>
    withStore(args, async (store) => {
      const { from, to } = await store.migrate();
      log(`${store.kind}: ${from === to ? `schema already at version ${to}` : `schema version ${from} -> ${to}`}`);
    }),
} as CommandModule;
