// A server with no room for another prepared statement (max_prepared_stmt_count: one budget
// for all of its clients, which many responders and workers on one cluster can spend): the
// responder sends what it cannot prepare as text, and says so once. Before: a 500 for every
// statement not yet prepared on its connection (a queue write of a new row count, say), and a
// look-up refused its JSON_TABLE statement could switch the process to IN lists for good.
import t from 'tap';
import { privateMariadb } from '../helpers/mariadb.js';
import { answerOnce, getParams, startResponder } from '../helpers/fcgi.js';
import { sites } from '../helpers/xml.js';


t.test('max_prepared_stmt_count reached: statements go as text, answers as before', async (t) => {
  const server = await privateMariadb();
  t.teardown(() => server.destroy());
  const url = await server.database('full');
  await server.sql("INSERT INTO full.site_ratings VALUES ('rated.example', 'A', 'kept', '2026-01-01 00:00:00', NULL)");
  await server.sql('SET GLOBAL max_prepared_stmt_count = 0');
  const responder = await startResponder({ db: url });
  t.teardown(() => responder.stop());

  // A look-up and queue writes of 1, 2, 3 and 4 rows: each statement a shape not prepared yet.
  for (let n = 1; n <= 4; n++) {
    const query = ['url=rated.example', ...Array.from({ length: n }, (_, i) => `url=new${n}-${i}.example`)].join('&');
    const answer = await answerOnce(responder.port!, getParams(query));
    t.equal(answer.status, 200, `${n} new: 200`);
    t.same(sites(answer.body).map((s) => s.status), ['rated', ...Array(n).fill('queued')]);
  }
  t.same(await server.sql('SELECT COUNT(*) AS n FROM full.rating_queue'), [{ n: 10 }], 'every new domain queued once');
  t.same(await server.sql("SHOW GLOBAL STATUS LIKE 'Prepared_stmt_count'"), [{ Variable_name: 'Prepared_stmt_count', Value: '0' }], 'nothing prepared');

  // Room again: statements are prepared from then on (the look-up still through JSON_TABLE).
  await server.sql('SET GLOBAL max_prepared_stmt_count = 16382');
  const again = await answerOnce(responder.port!, getParams('url=rated.example&url=later.example'));
  t.equal(again.status, 200);
  t.not((await server.sql("SHOW GLOBAL STATUS LIKE 'Prepared_stmt_count'"))[0].Value, '0', 'prepared once there is room');
  await responder.stop();
  const log = responder.stderr();
  t.equal(log.match(/no room for more prepared statements \(the server's max_prepared_stmt_count\)/g)?.length, 1, `said once: ${log}`);
  t.notMatch(log, /500|refuses JSON_TABLE|IN lists/, 'no 500, and the look-up was not changed');
});
