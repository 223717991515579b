// A database password given through ADRATER_CONFIG never shows: not in argv, not in a
// response, not in a log line, also when the connection fails. A config file others can
// read gets a warning; so does a password on the command line, which ps then shows masked.
import t from 'tap';
import { writeFileSync, chmodSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings } from '../../lib/core/settings.js';
import { cgi, parseCgi, run } from '../helpers/run.js';
import { startResponder, answerOnce } from '../helpers/fcgi.js';
import { connectFcgi } from '../../lib/fastcgi/client.js';
import { mysqlAccount, mysqlStore } from '../helpers/stores.js';

const SECRET = 'S3cret-pw-' + process.pid;
const dir = mkdtempSync(join(tmpdir(), 'adrater-secrets-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
function config(name: string, settings: object, mode: number): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(settings));
  chmodSync(path, mode);
  return path;
}

t.test('precedence: command line, environment, file, defaults', async (t) => {
  const file = config('p.json', { db: 'sqlite:/file.sqlite', maxUrls: 7, retryAfter: 9 }, 0o600);
  const warnings: string[] = [];
  const s = loadSettings({ maxUrls: 3 }, { ADRATER_CONFIG: file, ADRATER_DB: 'sqlite:/env.sqlite', ADRATER_MAX_URLS: '5' }, (w) => warnings.push(w));
  t.match(s, { db: 'sqlite:/env.sqlite', maxUrls: 3, retryAfter: 9, maxBody: 65536 });
  t.same(warnings, []);
  t.throws(() => loadSettings({}, { ADRATER_MAX_URLS: 'ten' }, () => {}), /ADRATER_MAX_URLS: maxUrls must be a whole number/);
  t.throws(() => loadSettings({}, { ADRATER_DB: 'postgres://x' }, () => {}), /database must be/);
});

t.test('an unreachable database: the password appears nowhere', async (t) => {
  const file = config('down.json', { db: `mysql://adrater:${SECRET}@127.0.0.1:1/x` }, 0o644);
  const answer = await cgi('', { query: 'url=a.example', env: { ADRATER_DB: '', ADRATER_CONFIG: file } });
  t.equal(answer.status, 503);
  t.match(answer.stderr, new RegExp(`config file ${file} is readable by other users`), 'a world-readable config file is warned about');
  t.notMatch(JSON.stringify(answer), new RegExp(SECRET), 'not in the CGI answer or its log');

  const responder = await startResponder({ db: '', env: { ADRATER_CONFIG: file } });
  t.teardown(() => responder.stop());
  const cmdline = readFileSync(`/proc/${responder.child.pid}/cmdline`, 'utf8');
  t.notMatch(cmdline, new RegExp(SECRET), `not in argv: ${cmdline.replace(/\0/g, ' ')}`);
  const client = await connectFcgi({ port: responder.port!, host: '127.0.0.1' });
  for (const query of ['url=a.example', 'url=a.example&format=json']) {
    const raw = (await client.request({ REQUEST_METHOD: 'GET', QUERY_STRING: query, REMOTE_ADDR: '127.0.0.1' })).stdout.toString();
    t.equal(parseCgi(Buffer.from(raw)).status, 503);
    t.notMatch(raw, new RegExp(SECRET), 'not in the FastCGI answer');
  }
  client.close();
  await responder.stop();
  t.notMatch(responder.stderr(), new RegExp(SECRET), 'not in the responder log');
});

t.test('a wrong password on the real server: 503, and the password appears nowhere', async (t) => {
  const user = `adrater_secret_${process.pid}`;
  if (!(await mysqlAccount(t, user, 'the-right-one'))) return;
  const file = config('wrong.json', { db: `mysql://${user}:${SECRET}@127.0.0.1:3306/test` }, 0o640);
  const answer = await cgi('', { query: 'url=a.example', env: { ADRATER_DB: '', ADRATER_CONFIG: file } });
  t.equal(answer.status, 503);
  t.match(answer.stderr, /ER_ACCESS_DENIED_ERROR/, 'the log says why');
  t.notMatch(answer.stderr, /readable by other users/, 'a 640 file is not warned about');
  t.notMatch(JSON.stringify(answer), new RegExp(SECRET));
  const command = await run(['queue'], { ADRATER_CONFIG: file });
  t.equal(command.code, 1);
  t.notMatch(command.stderr, new RegExp(SECRET), 'not in a command\'s error line either');
});

t.test('a password given on the command line is masked in ps, used, and warned about', async (t) => {
  const store = await mysqlStore(t);
  if (!store) return;
  t.teardown(() => store.close());
  const user = `adrater_argv_${process.pid}`;
  const database = new URL(store.url).pathname.slice(1);
  if (!(await mysqlAccount(t, user, SECRET, { grantOn: database }))) return;
  const url = `mysql://${user}:${SECRET}@127.0.0.1:3306/${database}`;
  const responder = await startResponder({ db: '', args: ['--db', url] });
  t.teardown(() => responder.stop());
  const cmdline = readFileSync(`/proc/${responder.child.pid}/cmdline`, 'utf8');
  t.notMatch(cmdline, new RegExp(SECRET), `not in ps: ${cmdline.replace(/\0/g, ' ')}`);
  t.match(cmdline, `mysql://${user}:${'x'.repeat(SECRET.length)}@127.0.0.1:3306/${database}`, 'the rest of the command line as given');
  const answer = await answerOnce(responder.port!, { REQUEST_METHOD: 'GET', QUERY_STRING: 'url=argv.example', REMOTE_ADDR: '127.0.0.1' });
  t.equal(answer.status, 200, 'the password itself was used');
  t.same(await store.sql('SELECT domain FROM rating_queue'), [{ domain: 'argv.example' }]);
  await responder.stop();
  t.match(responder.stderr(), /warning: a database password on the command line can be read by other users \(ps\); put the URL in ADRATER_DB/);
  t.notMatch(responder.stderr(), new RegExp(SECRET));

  const command = await run(['queue', '--db', url], {});
  t.equal(command.code, 0, command.stderr);
  t.match(command.stderr, /warning: a database password on the command line/, 'a command warns too');
  t.match(command.stdout.toString(), /argv\.example/);
  const viaEnv = await run(['queue'], { ADRATER_DB: url });
  t.equal(viaEnv.stderr, '', 'no warning for the environment');
});

t.test('a password holding "@", "/", "?" or "#" unencoded: refused without quoting any of it', async (t) => {
  for (const mark of ['@', '/', '?', '#']) {
    const url = `mysql://adrater:${SECRET}${mark}${SECRET}@127.0.0.1:3306/test`;
    const answer = await cgi('', { query: 'url=a.example', env: { ADRATER_DB: url } });
    t.equal(answer.status, 500, `"${mark}": a configuration error`);
    t.match(answer.stderr, /configuration error: database URL: the user or password holds "@", "\/", "\?" or "#"; percent-encode them there/);
    t.notMatch(JSON.stringify(answer), new RegExp(SECRET), `"${mark}": no piece of the password in the answer or the log`);
    const command = await run(['queue', '--db', url], {});
    t.equal(command.code, 2);
    t.notMatch(command.stderr, new RegExp(SECRET), `"${mark}": nor in a command's error line`);
  }
  // Encoded, the same password is taken.
  const encoded = await cgi('', { query: 'url=a.example', env: { ADRATER_DB: `mysql://adrater:${SECRET}%40${SECRET}@127.0.0.1:1/test` } });
  t.equal(encoded.status, 503, 'percent-encoded: the URL is read (and the server on port 1 refuses)');
  t.notMatch(encoded.stderr, new RegExp(SECRET));
});
