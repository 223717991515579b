// A server whose sessions start with autocommit off (mariadbd --autocommit=0, as some sites
// run it): a 200 still means the request's queue rows are committed, and a responder's
// look-ups still see a rating the moment it is committed. Each mysql2 connection sets
// autocommit for its own session; a CGI run's own client commits when the server says a
// transaction is open. Before: every queue write answered 200 was rolled back when its
// connection closed, and a pooled connection read one snapshot for as long as it lived.
import t from 'tap';
import { privateMariadb } from '../helpers/mariadb.js';
import { cgi, run } from '../helpers/run.js';
import { answerOnce, startResponder } from '../helpers/fcgi.js';
import { sites } from '../helpers/xml.js';

const ask = (query: string) => ({ GATEWAY_INTERFACE: 'CGI/1.1', REQUEST_METHOD: 'GET', QUERY_STRING: query, REMOTE_ADDR: '127.0.0.1' });

t.test('autocommit off on the server: 200 means committed, and look-ups see new ratings', async (t) => {
  const server = await privateMariadb({ args: () => ['--skip-log-bin', '--autocommit=0'] });
  t.teardown(() => server.destroy());
  t.same(await server.sql('SELECT @@GLOBAL.autocommit AS a'), [{ a: 0 }], 'the server starts sessions with autocommit off');
  const url = await server.database('ac');
  const queued = async () => (await server.sql('SELECT domain FROM ac.rating_queue ORDER BY domain')).map((r) => r.domain);

  const viaCgi = await cgi(url, { query: 'url=cgi.example' });
  t.equal(viaCgi.status, 200);
  t.same(await queued(), ['cgi.example'], "a CGI run's queue write is committed");

  const responder = await startResponder({ db: url });
  t.teardown(() => responder.stop());
  const first = await answerOnce(responder.port!, ask('url=fcgi.example&url=later.example'));
  t.equal(first.status, 200);
  t.same(await queued(), ['cgi.example', 'fcgi.example', 'later.example'], "a responder's queue write is committed");

  const rated = await run(['rating', 'later.example', 'B'], { ADRATER_DB: url });
  t.equal(rated.code, 0, rated.stderr);
  const second = await answerOnce(responder.port!, ask('url=later.example'));
  t.same(sites(second.body).map((s) => [s.status, s.rating]), [['rated', 'B']], 'the rating committed since the last look-up is seen');
  await responder.stop();
  t.notMatch(responder.stderr(), /cannot set/, 'the session settings were taken');
});
