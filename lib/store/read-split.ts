// --db-read (CONTRACT §8): look-ups read from a replica or the nearest cluster node, queue
// writes and everything else go to --db; when no read server can be reached, or (for a
// persistent process, which checks) none is fit to read (a replica stopped or lagging:
// lib/store/mysql-target.ts), look-ups read from --db. Each side is opened when first used
// (a persistent process's before it listens): a CGI run whose sites are all rated and
// fresh never connects to --db.
import { UnavailableError } from '../core/errors.js';
import { log } from '../core/log.js';
import type { Store } from './store.js';

/** A side: a store opened already (a persistent process's), or one opened on first use (and again after a failed open). */
function side(given: Store | (() => Promise<Store>)): { get: () => Promise<Store>; opened: () => Store | null } {
  if (typeof given !== 'function') return { get: async () => given, opened: () => given };
  let opening: Promise<Store> | null = null;
  let opened: Store | null = null;
  return {
    get: () =>
      (opening ??= given().then(
        (store) => (opened = store),
        (err) => {
          opening = null;
          throw err;
        },
      )),
    opened: () => opened,
  };
}

export function readSplit(writeSide: Store | (() => Promise<Store>), readSide: Store | (() => Promise<Store>)): Store {
  const { get: write, opened: writeOpened } = side(writeSide);
  const { get: read, opened: readOpened } = side(readSide);
  let readingFromWrite = false;
  const closeIfOpen = async (store: () => Promise<Store>) => (await store().catch(() => null))?.close();
  const writeInUse = () => writeOpened()?.inUse?.();
  const readInUse = () => readOpened()?.inUse?.();
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
    // A persistent process's sides are pools, opened before it listens.
    ...(writeInUse() && readInUse() ? { inUse: () => ({ ...writeInUse()!, read: readInUse() }) } : {}),
  };
}
