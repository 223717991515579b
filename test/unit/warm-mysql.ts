// The build's warm-up server (lib/build/warm-mysql.mjs) must answer mysql2's client as a
// CGI look-up uses it: the handshake, a SELECT with the rated row, an INSERT, the quit.
// If a mysql2 upgrade breaks it, this says so before the build's warm-up does.
import t from 'tap';
import mysql from 'mysql2/promise';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cgi } from '../helpers/run.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
type WarmMysql = { withWarmMysql<T>(rated: string, work: (url: string) => Promise<T>): Promise<{ result: T; statements: string[]; quits: number }> };
const { withWarmMysql } = (await import(pathToFileURL(join(ROOT, 'lib/build/warm-mysql.mjs')).href)) as WarmMysql;

t.test('a look-up against the warm-up server: one rated row, the write acknowledged, the statements recorded', async (t) => {
  const { result, statements, quits } = await withWarmMysql('rated.example', async (url) => {
    const { port } = new URL(url);
    const conn = await mysql.createConnection({ host: '127.0.0.1', port: Number(port), user: 'warm', database: 'warm', charset: 'utf8mb4', dateStrings: true });
    const [rows] = await conn.query('SELECT domain, rating, info, rated_at, expires_at FROM site_ratings WHERE domain IN (?)', [['rated.example', 'new.example']]);
    const [ok] = await conn.query('INSERT INTO rating_queue (domain) VALUES (?)', ['new.example']);
    await conn.end();
    return { rows, ok };
  });
  t.same(result.rows, [{ domain: 'rated.example', rating: 'A', info: 'warm-up row', rated_at: '2026-01-01 00:00:00', expires_at: '2999-01-01 00:00:00' }]);
  t.match(result.ok, { affectedRows: 1 });
  t.match(statements, [/^SELECT domain, rating/, /^INSERT INTO rating_queue/]);
  t.equal(quits, 1, 'the session ended with QUIT');
});

t.test('the server is gone afterwards: a second connection to its port is refused', async (t) => {
  let seen = '';
  await withWarmMysql('rated.example', async (url) => (seen = url));
  const { port } = new URL(seen);
  await t.rejects(mysql.createConnection({ host: '127.0.0.1', port: Number(port), user: 'warm', connectTimeout: 2000 }), { code: 'ECONNREFUSED' });
});

// A CGI run does not wait for the server to close its socket after QUIT (~2.5 ms of cold
// code); it must still send QUIT before it exits, or MariaDB logs an aborted connection.
t.test('a CGI run on MySQL ends its session with QUIT before it exits', async (t) => {
  const { result, quits } = await withWarmMysql('rated.example', (url) => cgi(url, { query: 'url=rated.example&url=new.example' }));
  t.equal(result.status, 200);
  t.match(result.body, /domain="rated.example" status="rated"/);
  t.equal(quits, 1, 'one session, ended with QUIT');
});
