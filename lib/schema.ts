// Schema versions, applied in order by `adrater db migrate` (and `db init`). Each step is
// written to be safe to run again (MySQL 8 has no CREATE INDEX IF NOT EXISTS, so an
// index that is already there is accepted), so an interrupted migration can be re-run.

export interface Migration {
  version: number;
  mysql: string[];
  sqlite: string[];
}

export const MIGRATIONS: Migration[] = [
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
];

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

export const VERSION_TABLE = {
  mysql: `CREATE TABLE IF NOT EXISTS schema_version (version INT NOT NULL) ENGINE=InnoDB`,
  sqlite: `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`,
};
