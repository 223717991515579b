// Schema versions and the one runner that applies them, in order, for both stores (`adrater
// db migrate` and `db init`; SQLite also on open). Each step is written to be safe to run
// again (MySQL 8 has no CREATE INDEX IF NOT EXISTS, so its driver accepts an index or a
// primary key already there), so an interrupted migration can be re-run.

interface Migration {
  version: number;
  mysql: string[];
  sqlite: string[];
}

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    mysql: [
      `CREATE TABLE IF NOT EXISTS site_ratings (
        domain VARCHAR(253) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
        rating VARCHAR(16) NOT NULL,
        info VARCHAR(1024) NULL,
        rated_at DATETIME NOT NULL,
        expires_at DATETIME NULL
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
      `CREATE TABLE IF NOT EXISTS rating_queue (
        domain VARCHAR(253) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
        priority TINYINT NOT NULL,
        first_requested DATETIME NOT NULL,
        last_requested DATETIME NOT NULL,
        requests INT NOT NULL DEFAULT 1,
        source_ip VARCHAR(45) NULL
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
    ],
    sqlite: [
      `CREATE TABLE IF NOT EXISTS site_ratings (
        domain VARCHAR(253) NOT NULL PRIMARY KEY,
        rating VARCHAR(16) NOT NULL,
        info VARCHAR(1024) NULL,
        rated_at DATETIME NOT NULL,
        expires_at DATETIME NULL
      )`,
      `CREATE TABLE IF NOT EXISTS rating_queue (
        domain VARCHAR(253) NOT NULL PRIMARY KEY,
        priority TINYINT NOT NULL,
        first_requested DATETIME NOT NULL,
        last_requested DATETIME NOT NULL,
        requests INT NOT NULL DEFAULT 1,
        source_ip VARCHAR(45) NULL
      )`,
    ],
  },
  {
    // The rater takes work highest priority first, then oldest: serve that from an index.
    version: 2,
    mysql: [`CREATE INDEX rating_queue_order ON rating_queue (priority DESC, first_requested)`],
    sqlite: [`CREATE INDEX IF NOT EXISTS rating_queue_order ON rating_queue (priority DESC, first_requested)`],
  },
  {
    // Every table with a primary key: a server may refuse to create one without
    // (innodb_force_primary_key, Galera's wsrep_mode=REQUIRED_PRIMARY_KEY, MySQL's
    // sql_require_primary_key; `db init` failed there), and Galera does not support DELETE on
    // a table without one. The one row goes first (the runner writes it again next), so that
    // no two rows of one version can stand in the key's way.
    version: 3,
    mysql: ['DELETE FROM schema_version', 'ALTER TABLE schema_version ADD PRIMARY KEY (version)'],
    sqlite: [],
  },
];

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

const VERSION_TABLE = {
  mysql: `CREATE TABLE IF NOT EXISTS schema_version (version INT NOT NULL PRIMARY KEY) ENGINE=InnoDB`,
  sqlite: `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`,
};

/** What the runner needs of a store: one statement at a time, and a query for one number. */
export interface MigrationTarget {
  kind: 'mysql' | 'sqlite';
  exec(statement: string, params?: unknown[]): Promise<unknown> | unknown;
  /** The first column of the first row, or null. */
  scalar(query: string): Promise<unknown> | unknown;
}

/** Applies the migrations newer than the database's version; returns the versions before and after. */
export async function runMigrations(target: MigrationTarget): Promise<{ from: number; to: number }> {
  await target.exec(VERSION_TABLE[target.kind]);
  const from = Number((await target.scalar('SELECT MAX(version) FROM schema_version')) ?? 0);
  for (const migration of MIGRATIONS) {
    if (migration.version <= from) continue;
    for (const statement of migration[target.kind]) await target.exec(statement);
    await target.exec('DELETE FROM schema_version');
    // REPLACE (both dialects): a runner on another host that wrote the same version between
    // these two statements is no duplicate key.
    await target.exec('REPLACE INTO schema_version (version) VALUES (?)', [migration.version]);
  }
  return { from, to: Math.max(from, LATEST_VERSION) };
}
