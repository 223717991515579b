// --db-read (CONTRACT §8): look-ups read from a replica or the nearest cluster node, queue
// writes and everything else go to --db; when no read server can be reached, or (for a
// persistent process, which checks) none is fit to read (a replica stopped or lagging:
// lib/store/mysql-target.ts), look-ups read from --db. Each side is opened when first used
// (a persistent process's before it listens): a CGI run whose sites are all rated and
// fresh never connects to --db.
import { UnavailableError } from '../core/errors.js';
import { log } from '../core/log.js';
import type { Store } from './store.js';

/** A side: a store opened already (a persistent process's), or one to open on first use. */
type Side = Store | (() => Promise<Store>);

/** The side's store, opened on first use (and again after a failed open) unless it is open. */
function onFirstUse(side: Side): () => Promise<Store> {
  if (typeof side !== 'function') return async () => side;
  let opening: Promise<Store> | null = null;
  return () =>
    (opening ??= side().catch((err) => {
      opening = null;
      throw err;
    }));
}

/** Where both sides' statements go (the status): only open sides (a persistent process's pools) know. */
function inUseOf(writeSide: Side, readSide: Side): Store['inUse'] {
  if (typeof writeSide === 'function' || typeof readSide === 'function') return undefined;
  const [write, read] = [writeSide.inUse, readSide.inUse];
  return write && read ? () => ({ ...write(), read: read() }) : undefined;
}

export function readSplit(writeSide: Side, readSide: Side): Store {
  const write = onFirstUse(writeSide);
  const read = onFirstUse(readSide);
  const inUse = inUseOf(writeSide, readSide);
  let readingFromWrite = false;
  const closeIfOpen = async (store: () => Promise<Store>) => (await store().catch(() => null))?.close();
  return {
    kind: 'mysql',
    async lookup(domains, signal) {
      try {
        const rows = await (await read()).lookup(domains, signal);
        if (readingFromWrite) log('look-ups: a read server answers again');
        readingFromWrite = false;
        return rows;
      } catch (err) {
        if (!(err instanceof UnavailableError)) throw err;
        if (!readingFromWrite) log(`look-ups: no read server available (${err.message.slice(0, 120)}); reading from --db`);
        readingFromWrite = true;
        return (await write()).lookup(domains, signal);
      }
    },
    enqueue: async (items, signal) => (await write()).enqueue(items, signal),
    migrate: async () => (await write()).migrate(),
    writeRatings: async (rows, force) => (await write()).writeRatings(rows, force),
    listQueue: async (query) => (await write()).listQueue(query),
    claimQueue: async (query) => (await write()).claimQueue(query),
    close: async () => {
      await Promise.all([closeIfOpen(write), closeIfOpen(read)]);
    },
    ...(inUse ? { inUse } : {}),
  };
}
