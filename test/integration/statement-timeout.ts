// A statement the server stops at its time limit (MariaDB's max_statement_time, here set on
// the account as a DBA would: `WITH MAX_STATEMENT_TIME`) is the server not there for us in
// time: 503 with Retry-After, for a CGI run (its own client) and a responder (mysql2) alike,
// not a 500. And it is that request's failure alone: once the table is free, the responder
// answers as before, through the same look-up. Real MariaDB, the real bin.
import t from 'tap';
import { cgi } from '../helpers/run.js';
import { answerOnce, getParams, startResponder } from '../helpers/fcgi.js';
import { mysqlAccount, mysqlStore, MYSQL_ADMIN } from '../helpers/stores.js';
import { errorOf, sites } from '../helpers/xml.js';

const server = new URL(MYSQL_ADMIN);
const hostPort = `${server.hostname}:${server.port || 3306}`;

t.test('a look-up stopped at the server\'s statement time limit: 503 and Retry-After, then answers as before', async (t) => {
  const store = await mysqlStore(t);
  if (!store) return;
  t.teardown(async () => {
    await store.sql('UNLOCK TABLES');
    await store.close();
  });
  const database = new URL(store.url).pathname.slice(1);
  const user = `adrater_limit_${process.pid}`;
  await mysqlAccount(t, user, 'limited', { grantOn: database, limits: 'MAX_STATEMENT_TIME 0.3' });
  await store.sql("INSERT INTO site_ratings VALUES ('rated.example', 'A', NULL, '2026-01-01 00:00:00', NULL)");
  const url = `mysql://${user}:limited@${hostPort}/${database}`;

  const responder = await startResponder({ db: url });
  t.teardown(() => responder.stop());
  t.equal((await answerOnce(responder.port!, getParams('url=rated.example'))).status, 200, 'the responder answers before the table is held');

  // The store's own connection holds the table: every look-up waits on it until its limit.
  await store.sql('LOCK TABLES site_ratings WRITE');
  const fromCgi = await cgi(url, { query: 'url=rated.example' });
  t.equal(fromCgi.status, 503, `a CGI run: ${fromCgi.stderr}`);
  t.equal(fromCgi.headers['retry-after'], '5');
  t.equal(errorOf(fromCgi.body).code, 'unavailable');
  t.match(fromCgi.stderr, /503 database unavailable: MySQL unavailable: ER_STATEMENT_TIMEOUT/, 'the log says why');

  const fromResponder = await answerOnce(responder.port!, getParams('url=rated.example'));
  t.equal(fromResponder.status, 503, 'the responder');
  t.equal(fromResponder.headers['retry-after'], '5');
  t.equal(errorOf(fromResponder.body).code, 'unavailable');
  t.match(responder.stderr(), /503 database unavailable: MySQL unavailable: ER_STATEMENT_TIMEOUT/);

  await store.sql('UNLOCK TABLES');
  const after = await answerOnce(responder.port!, getParams('url=rated.example'));
  t.equal(after.status, 200, 'once the table is free, the responder answers');
  t.same(sites(after.body).map((s) => [s.domain, s.status, s.rating]), [['rated.example', 'rated', 'A']]);
  t.notMatch(responder.stderr(), /refuses JSON_TABLE/, 'its look-up is the same as before (JSON_TABLE)');
  t.notMatch(responder.stderr() + fromCgi.stderr, /limited@|:limited/, 'the password appears in no log');
});
