// An SQLite file the web server's user may not write: the usual first deployment, the file
// made by root (`db init`, `adrater import`) and then served by www-data, or a directory
// where www-data cannot create the file's -wal and -shm; and a file on a read-only file
// system. Every such request is a 503 with Retry-After and one log line that names the file
// or directory and why (the user, or the read-only file system), not SQLite's bare "unable
// to open database file" or "attempt to write a readonly database" (which name neither); a
// request naming only rated sites still answers where the file can be read; and once the
// operator gives the files to that user, the same responder queues again. The real bin, as
// a CGI run and a responder, run as www-data (runuser); skipped unless root.
import t from 'tap';
import type { Test } from 'tap';
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { BIN, cgiGetAs, run } from '../helpers/run.js';
import { answerOnce, getParams, startResponder } from '../helpers/fcgi.js';
import { idsOf } from '../helpers/servers.js';
import { sites } from '../helpers/xml.js';
import { until } from '../helpers/wait.js';
import { unavailable } from '../helpers/refused.js';
import { noMount } from '../helpers/mounts.js';

const USER = 'www-data';
const skip = process.getuid?.() !== 0 ? 'running as another user needs root' : false;
const www = skip ? { uid: -1, gid: -1 } : idsOf(USER);
const who = `uid ${www.uid} (${USER})`;

/** A directory root owns, that www-data may enter and read but not write. */
function rootDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'adrater-access-'));
  chmodSync(dir, 0o755);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Creates the file as root, as `db init` on the deploying shell does, with one rating. */
async function rootFile(dir: string): Promise<string> {
  const db = `sqlite:${join(dir, 'ratings.sqlite')}`;
  const rated = await run(['rating', 'rated-site.example', 'A'], { ADRATER_DB: db });
  if (rated.code !== 0) throw new Error(`adrater rating: ${rated.stderr}`);
  return db;
}

function queued(path: string): string[] {
  const file = new Database(path, { readonly: true });
  try {
    return (file.prepare('SELECT domain FROM rating_queue ORDER BY domain').all() as Array<{ domain: string }>).map((r) => r.domain);
  } finally {
    file.close();
  }
}

t.test('a CGI run as www-data', { skip }, async (t) => {
  await t.test('in a directory it cannot write, no file yet', async (t) => {
    const dir = rootDir(t);
    const answer = cgiGetAs(BIN, `sqlite:${join(dir, 'ratings.sqlite')}`, 'url=new-site.example', USER);
    unavailable(t, answer, answer.stderr);
    t.match(
      answer.stderr,
      `503 database unavailable: SQLite unavailable: SQLITE_CANTOPEN: unable to open database file (${dir}/ratings.sqlite: its directory ${dir} cannot be written by ${who}, and SQLite creates ratings.sqlite-wal and ratings.sqlite-shm there)`,
    );
    t.same(readdirSync(dir), [], 'nothing created');
  });

  await t.test('a file root made, in a directory it cannot write', async (t) => {
    const dir = rootDir(t);
    const db = await rootFile(dir);
    const answer = cgiGetAs(BIN, db, 'url=new-site.example', USER);
    unavailable(t, answer, answer.stderr);
    t.match(answer.stderr, `SQLite unavailable: SQLITE_READONLY_DIRECTORY: attempt to write a readonly database (${dir}/ratings.sqlite cannot be written by ${who})`);
  });

  await t.test('a file root made, in a directory it may write', async (t) => {
    const dir = rootDir(t);
    const db = await rootFile(dir);
    chownSync(dir, www.uid, www.gid);
    const rated = cgiGetAs(BIN, db, 'url=www.rated-site.example', USER);
    t.equal(rated.status, 200, 'a look-up alone reads the file');
    t.equal(sites(rated.body)[0].status, 'rated');
    const answer = cgiGetAs(BIN, db, 'url=www.rated-site.example&url=new-site.example', USER);
    unavailable(t, answer, answer.stderr);
    t.match(answer.stderr, `SQLite unavailable: SQLITE_READONLY: attempt to write a readonly database (${dir}/ratings.sqlite cannot be written by ${who})`);
    t.same(queued(join(dir, 'ratings.sqlite')), [], 'nothing queued');
  });
});

t.test('a file on a read-only file system (a bind mount), as root', { skip: skip || (await noMount()) || false }, async (t) => {
  const source = rootDir(t);
  const db = await rootFile(source);
  const dir = rootDir(t);
  const mount = promisify(execFile);
  await mount('mount', ['--bind', '-o', 'ro', source, dir]);
  await mount('mount', ['-o', 'remount,bind,ro', dir]); // older util-linux binds read-write first
  t.teardown(() => mount('umount', ['-l', dir]).catch(() => {}));
  const ro = db.replace(source, dir);
  for (const query of ['url=www.rated-site.example', 'url=new-site.example']) {
    const answer = cgiGetAs(BIN, ro, query);
    unavailable(t, answer, answer.stderr);
    t.match(answer.stderr, `SQLite unavailable: SQLITE_CANTOPEN: unable to open database file (${dir}/ratings.sqlite is on a read-only file system)`);
  }
});

t.test('a responder as www-data, then the files given to it', { skip }, async (t) => {
  const dir = rootDir(t);
  const db = await rootFile(dir);
  const responder = await startResponder({ db, launcher: ['runuser', '-u', USER, '--'] });
  t.teardown(() => responder.stop());
  const refused = await answerOnce(responder.port!, getParams('url=new-site.example'));
  unavailable(t, refused, responder.stderr());
  await until('the log line', () => responder.stderr().includes(`(${dir}/ratings.sqlite cannot be written by ${who})`), 5000);

  // What the README says to do: the directory and the file to the web server's user.
  chownSync(dir, www.uid, www.gid);
  chownSync(join(dir, 'ratings.sqlite'), www.uid, www.gid);
  const answer = await answerOnce(responder.port!, getParams('url=new-site.example'));
  t.equal(answer.status, 200, 'the same process queues once it may write');
  t.same(queued(join(dir, 'ratings.sqlite')), ['new-site.example']);
});
