// A read server's replication status, as the checks of a persistent process's read side
// judge it (lib/store/mysql-target.ts): rows as MariaDB and MySQL 8 give them.
import t from 'tap';
import { replicationCheck } from '../../lib/store/mysql-target.js';

t.test('not a replica, or replicating within the bound: ready', async (t) => {
  t.equal(replicationCheck(undefined, null), 'ready', 'no row: a primary or a Galera node');
  t.equal(replicationCheck({ Seconds_Behind_Master: 0 }, null), 'ready');
  t.equal(replicationCheck({ Seconds_Behind_Master: 3600 }, null), 'ready', 'no bound asked for: any lag');
  t.equal(replicationCheck({ Seconds_Behind_Master: 5 }, 5), 'ready', 'at the bound');
  t.equal(replicationCheck({ Seconds_Behind_Source: '2' }, 5), 'ready', "MySQL 8's column");
  t.equal(replicationCheck({ Slave_IO_Running: 'Yes' }, 5), 'ready', 'no lag column at all: cannot tell');
});

t.test('replication not running: never read, with or without a bound', async (t) => {
  t.equal(replicationCheck({ Seconds_Behind_Master: null }, null), 'not replicating (Seconds_Behind_Master NULL)');
  t.equal(replicationCheck({ Seconds_Behind_Source: null }, 30), 'not replicating (Seconds_Behind_Master NULL)');
});

t.test('behind by more than maxLag: lagging', async (t) => {
  t.equal(replicationCheck({ Seconds_Behind_Master: 31 }, 30), 'lagging (Seconds_Behind_Master 31 > maxLag 30)');
  t.equal(replicationCheck({ Seconds_Behind_Source: '7' }, 0), 'lagging (Seconds_Behind_Master 7 > maxLag 0)');
});
