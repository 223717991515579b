// A CGI run's (or a command's) one connection, moved along the listed servers only when the
// statement surely did not count (lib/store/mysql-retry.ts). The servers here are stand-ins
// that say what a real one would; test/drills/cluster.ts and failback.ts do it on real ones.
import t from 'tap';
import { notApplied, readAgain, singleConnection } from '../../lib/store/mysql-retry.js';
import type { MysqlServer } from '../../lib/store/mysql-servers.js';

const servers: MysqlServer[] = ['a:1', 'b:2', 'c:3'].map((label) => ({ label, options: {} }));
const failure = (code: string) => Object.assign(new Error(code), { code });

/** Connections that answer as `answers[label]` says: a value, or an error's code to throw. */
function cluster(answers: Record<string, string>) {
  const opened: string[] = [];
  const ended: string[] = [];
  const connect = async (server: MysqlServer) => {
    if (answers[server.label] === 'ECONNREFUSED') throw failure('ECONNREFUSED');
    opened.push(server.label);
    return server.label;
  };
  const run = async (label: string) => {
    const answer = answers[label];
    if (/^[A-Z_]+$/.test(answer)) throw failure(answer);
    return answer;
  };
  return { connect, end: async (label: string) => void ended.push(label), run, opened, ended };
}

t.test('a statement refused as not applied (1047, 1290) goes to the next listed server', async (t) => {
  for (const code of ['ER_UNKNOWN_COM_ERROR', 'ER_OPTION_PREVENTS_STATEMENT']) {
    const c = cluster({ 'a:1': code, 'b:2': 'from b' });
    const target = await singleConnection(servers, c.connect, c.end);
    t.equal(await target.use(c.run, notApplied), 'from b', code);
    t.same(c.opened, ['a:1', 'b:2']);
    t.same(c.ended, ['a:1'], 'the first connection ended');
  }
});

t.test('a connection lost under a write is not tried elsewhere: the write may have counted', async (t) => {
  const c = cluster({ 'a:1': 'ECONNRESET', 'b:2': 'from b' });
  const target = await singleConnection(servers, c.connect, c.end);
  await t.rejects(target.use(c.run, notApplied), { code: 'ECONNRESET' });
  t.same(c.opened, ['a:1']);
});

t.test('a read lost with its connection is read again on the next server', async (t) => {
  const c = cluster({ 'a:1': 'ECONNRESET', 'b:2': 'ECONNREFUSED', 'c:3': 'from c' });
  const target = await singleConnection(servers, c.connect, c.end);
  t.equal(await target.use(c.run, readAgain), 'from c', 'b refused the connection: c');
  t.same(c.opened, ['a:1', 'c:3']);
});

t.test("the next servers refuse the connection: the statement's own failure", async (t) => {
  const c = cluster({ 'a:1': 'ER_UNKNOWN_COM_ERROR', 'b:2': 'ECONNREFUSED', 'c:3': 'ECONNREFUSED' });
  const target = await singleConnection(servers, c.connect, c.end);
  await t.rejects(target.use(c.run, notApplied), { code: 'ER_UNKNOWN_COM_ERROR' });
});

t.test('the end of the list: the last failure', async (t) => {
  const c = cluster({ 'a:1': 'ER_UNKNOWN_COM_ERROR', 'b:2': 'ER_UNKNOWN_COM_ERROR', 'c:3': 'ER_UNKNOWN_COM_ERROR' });
  const target = await singleConnection(servers, c.connect, c.end);
  await t.rejects(target.use(c.run, notApplied), { code: 'ER_UNKNOWN_COM_ERROR' });
  t.same(c.opened, ['a:1', 'b:2', 'c:3'], 'each tried once');
});

t.test('a wrong statement stays where it is', async (t) => {
  const c = cluster({ 'a:1': 'ER_PARSE_ERROR', 'b:2': 'from b' });
  const target = await singleConnection(servers, c.connect, c.end);
  await t.rejects(target.use(c.run, readAgain), { code: 'ER_PARSE_ERROR' });
  t.same(c.opened, ['a:1']);
});
