// The status document's database fields: moves summed over workers and sides, and the
// server each worker uses as a Prometheus label, escaped as the exposition format wants.
import t from 'tap';
import { prometheusText, sumStatus } from '../../lib/fastcgi/status.js';
import type { Counters } from '../../lib/fastcgi/status.js';

const worker = (pid: number, database?: Counters['database']): Counters => ({
  pid, uptime: 1, requests: 0, inFlight: 0, connections: 0, busy: 0, errors: 0, databaseReachable: null, database,
});

t.test('moves are summed over workers and both sides', async (t) => {
  const status = sumStatus(1, 2, [
    worker(10, { server: 'db1:3306', moves: 2, read: { server: 'replica:3306', moves: 1 } }),
    worker(11, { server: 'db2:3306', moves: 1 }),
  ]);
  t.equal(status.databaseMoves, 4);
  const text = prometheusText(status);
  t.match(text, /^adrater_database_moves_total 4$/m);
  t.match(text, /^adrater_worker_database_server\{pid="10",side="write",server="db1:3306"\} 1$/m);
  t.match(text, /^adrater_worker_database_server\{pid="10",side="read",server="replica:3306"\} 1$/m);
  t.match(text, /^adrater_worker_database_server\{pid="11",side="write",server="db2:3306"\} 1$/m);
  t.equal(text.match(/^# TYPE adrater_worker_database_server gauge$/gm)?.length, 1, 'one TYPE line');
});

t.test('a socket path is a label value like any other: \\, " and newline escaped', async (t) => {
  const text = prometheusText(sumStatus(1, 2, [worker(10, { server: '/run/a "b"\\c\nd.sock', moves: 0 })]));
  t.match(text, /^adrater_worker_database_server\{pid="10",side="write",server="\/run\/a \\"b\\"\\\\c\\nd\.sock"\} 1$/m);
});

t.test('SQLite: no database server, no such lines', async (t) => {
  const status = sumStatus(1, 2, [worker(10)]);
  t.equal(status.databaseMoves, 0);
  t.notMatch(prometheusText(status), /adrater_worker_database_server/);
});
