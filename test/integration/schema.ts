// db init / db migrate on both stores: a database at an older version is brought up to
// date, and running either again changes nothing.
import t from 'tap';
import { run } from '../helpers/run.js';
import { eachStore } from '../helpers/stores.js';
import { LATEST_VERSION } from '../../lib/store/schema.js';

t.test('migrate from version 1', (t) =>
  eachStore(t, async (t, store) => {
    // The scratch store is at the latest version: take it back to version 1.
    await store.sql('DROP INDEX rating_queue_order' + (store.name === 'mysql' ? ' ON rating_queue' : ''));
    await store.sql('UPDATE schema_version SET version = 1');
    await store.sql("INSERT INTO rating_queue VALUES ('kept.example', 3, '2025-01-01 00:00:00', '2025-01-01 00:00:00', 1, NULL)");
    const migrate = await run(['db', 'migrate', '--db', store.url], {});
    t.equal(migrate.code, 0, migrate.stderr);
    t.match(migrate.stderr, new RegExp(`schema version 1 -> ${LATEST_VERSION}`));
    t.same(await store.sql('SELECT version FROM schema_version'), [{ version: LATEST_VERSION }]);
    const index =
      store.name === 'mysql'
        ? await store.sql("SELECT DISTINCT index_name AS name FROM information_schema.statistics WHERE table_schema = DATABASE() AND index_name = 'rating_queue_order'")
        : await store.sql("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'rating_queue_order'");
    t.same(index.map((r) => r.name ?? r.NAME), ['rating_queue_order'], 'version 2 adds the queue index');
    t.same(await store.sql('SELECT domain FROM rating_queue'), [{ domain: 'kept.example' }], 'data kept');
    if (store.name === 'mysql') {
      await store.sql('RENAME TABLE rating_queue TO rating_queue_away');
      const missing = await run(['queue', '--db', store.url], {});
      t.equal(missing.code, 1);
      t.match(missing.stderr, /^adrater: Table '[^']+\.rating_queue' doesn't exist \(run adrater db init\)\n$/, 'one line, with the fix');
      await store.sql('RENAME TABLE rating_queue_away TO rating_queue');
    }
    for (const action of ['migrate', 'init']) {
      const again = await run(['db', action, '--db', store.url], {});
      t.equal(again.code, 0);
      t.match(again.stderr, /schema already at version/, `db ${action} again: nothing to do`);
    }
  }),
);
