// The one place a database URL's scheme is read, and so the one place a driver is chosen.
// A driver is loaded only when its store is opened: a CGI run on SQLite never loads
// mysql2, nor one on MySQL better-sqlite3 (nor mysql2, unless the server asks for what the
// run's own client does not speak).
import { SettingsError } from '../core/errors.js';
import type { Store, OpenOptions } from './store.js';

export type StoreKind = 'mysql' | 'sqlite';

export function storeKind(url: string): StoreKind {
  if (url.startsWith('mysql://') || url.startsWith('mariadb://')) return 'mysql';
  if (url.startsWith('sqlite:')) return 'sqlite';
  throw new SettingsError('database must be mysql://user:pass@host:port/db or sqlite:PATH');
}

/**
 * Loads the driver for `url` without opening anything (a CGI run times this as `load`). A
 * one-request run (CGI) on MySQL gets its own small client, and mysql2 only if it must
 * (lib/store/mysql-cgi.ts).
 */
export async function loadDriver(url: string, oneRequest = false): Promise<(options: OpenOptions) => Promise<Store>> {
  if (storeKind(url) === 'mysql') {
    const { openMysql } = oneRequest ? await import('./mysql-cgi.js') : await import('./mysql.js');
    return async (options) => {
      if (!options.readUrl) return openMysql(url, options);
      const { readSplit } = await import('./read-split.js');
      const openRead = () => openMysql(options.readUrl!, { ...options, reads: true });
      if (options.persistent) {
        // A persistent store's pools connect on first use: opening both sides now costs
        // nothing, and a read URL that cannot be read stops a responder's start as --db's does.
        const [write, read] = await Promise.all([openMysql(url, options), openRead()]);
        return readSplit(write, read);
      }
      return readSplit(() => openMysql(url, options), openRead);
    };
  }
  const { openSqlite } = await import('./sqlite.js');
  return async (options) => openSqlite(url.slice('sqlite:'.length), options);
}

export async function openStore(url: string, options: OpenOptions = {}): Promise<Store> {
  return (await loadDriver(url, options.oneRequest))(options);
}
