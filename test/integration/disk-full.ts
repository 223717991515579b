// A full disk under the database: look-ups still answer, a request that must queue a site is
// answered 503 with Retry-After (the operator frees space, the client asks again), with one
// log line that says why, never a 500 with a stack per request; once there is space again
// the same process queues as before. The disk is a real one of its own size (a tmpfs,
// mounted and unmounted here; skipped, saying why, where none can be mounted), filled with
// a file until the kernel says ENOSPC; SQLite's file on it (SQLITE_FULL), and a private
// MariaDB's data directory on it (InnoDB's "The table 'rating_queue' is full", 1114). The
// real bin, as a CGI run and a responder; and `adrater import` filling the disk itself.
import t from 'tap';
import type { Test } from 'tap';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { cgi, run as runBin } from '../helpers/run.js';
import { answerOnce, getParams, startResponder } from '../helpers/fcgi.js';
import { privateMariadb } from '../helpers/mariadb.js';
import { sites } from '../helpers/xml.js';
import { until } from '../helpers/wait.js';
import { noMount } from '../helpers/mounts.js';
import { unavailable } from '../helpers/refused.js';

const run = promisify(execFile);

const skip = (await noMount()) || false;

/** A tmpfs of `size` at a new directory, unmounted (and the directory removed) with `t`. */
async function smallDisk(t: Test, size: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'adrater-full-'));
  await run('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  t.teardown(async () => {
    await run('umount', ['-l', dir]).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Fills the file system at `dir` with one file until the kernel refuses more; returns the file. */
async function fill(dir: string): Promise<string> {
  const file = join(dir, 'fill');
  await run('dd', ['if=/dev/zero', `of=${file}`, 'bs=64k']).catch(() => {}); // exits 1 at ENOSPC
  return file;
}

/** How many rows a table of the SQLite file at `path` holds (read-only, as any other process would). */
function rowsIn(path: string, table: 'site_ratings' | 'rating_queue'): number {
  const file = new Database(path, { readonly: true });
  try {
    return (file.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    file.close();
  }
}

/** 50 sites never seen, a new set each call. */
let batch = 0;
const newSites = () => Array.from({ length: 50 }, (_, i) => `url=n${++batch}-${i}-${'a'.repeat(40)}.example`).join('&');

/**
 * Requests of 50 new sites until one is not a 200 (a database may have room left in files it
 * already grew), at most `max`; the first other answer, and how many 200s came before it.
 */
async function untilRefused(port: number, max: number) {
  for (let i = 0; i < max; i++) {
    const answer = await answerOnce(port, getParams(newSites()));
    if (answer.status !== 200) return { answer, accepted: i };
  }
  return { answer: null, accepted: max };
}

async function checkFullDisk(t: Test, db: string, fillDir: string, why: RegExp, queued: () => Promise<number>) {
  const responder = await startResponder({ db });
  t.teardown(() => responder.stop());
  t.equal((await answerOnce(responder.port!, getParams('url=rated.example&url=before.example'))).status, 200, 'answers before the disk fills');

  const filler = await fill(fillDir);
  const { answer, accepted } = await untilRefused(responder.port!, 400);
  t.ok(answer, `a queue write was refused once the disk was full (after ${accepted} more accepted)`);
  if (!answer) return;
  // The answer can arrive before the line does: the log is another pipe.
  await until('the log line', () => why.test(responder.stderr()), 5000).catch(() => {});
  unavailable(t, answer, responder.stderr(), 'the responder');
  t.match(responder.stderr(), why, 'its log says why');

  const rated = await answerOnce(responder.port!, getParams('url=rated.example'));
  t.equal(rated.status, 200, 'a request that queues nothing is still answered');
  t.same(sites(rated.body).map((s) => [s.domain, s.status]), [['rated.example', 'rated']]);

  const fromCgi = await cgi(db, { query: newSites() });
  unavailable(t, fromCgi, fromCgi.stderr, `a CGI run (${fromCgi.stderr.trim()})`);

  const before = await queued();
  unlinkSync(filler);
  const after = await answerOnce(responder.port!, getParams('url=after.example'));
  t.equal(after.status, 200, 'with space again, the same responder queues');
  t.same(sites(after.body).map((s) => [s.domain, s.status]), [['after.example', 'queued']]);
  t.equal(await queued(), before + 1, 'and the row is there');
  t.equal((await cgi(db, { query: 'url=after2.example' })).status, 200, 'so does a CGI run');
}

t.test('SQLite on a full disk (SQLITE_FULL): 503 with Retry-After for a queue write, look-ups still answered; then queued again', { skip }, async (t) => {
  const disk = await smallDisk(t, '2m');
  const file = join(disk, 'ratings.sqlite');
  const db = `sqlite:${file}`;
  t.equal((await runBin(['db', 'init'], { ADRATER_DB: db })).code, 0);
  const csv = join(disk, 'r.csv');
  writeFileSync(csv, 'domain,rating,info,rated_at,expires_at\nrated.example,A,,2026-01-01,\n');
  t.equal((await runBin(['import', csv], { ADRATER_DB: db })).code, 0);
  unlinkSync(csv);
  const queued = async () => rowsIn(file, 'rating_queue');
  await checkFullDisk(t, db, disk, /503 database unavailable: SQLite unavailable: SQLITE_FULL: database or disk is full/, queued);
});

t.test('MariaDB whose data directory is full (1114): 503 with Retry-After for a queue write, look-ups still answered; then queued again', { skip }, async (t) => {
  let disk = '';
  const server = await privateMariadb({
    beforeInstall: async (dataDir) => {
      mkdirSync(dataDir);
      disk = dataDir;
      await run('mount', ['-t', 'tmpfs', '-o', 'size=160m', 'tmpfs', dataDir]);
    },
  });
  t.teardown(async () => {
    await server.stop('SIGKILL');
    await run('umount', ['-l', disk]).catch(() => {});
    await server.destroy();
  });
  const db = await server.database('full');
  await server.sql("INSERT INTO full.site_ratings VALUES ('rated.example', 'A', NULL, '2026-01-01 00:00:00', NULL)");
  const queued = async () => Number((await server.sql('SELECT COUNT(*) AS n FROM full.rating_queue'))[0].n);
  await checkFullDisk(t, db, disk, /503 database unavailable: MySQL unavailable: ER_RECORD_FILE_FULL: The table 'rating_queue' is full/, queued);
});

t.test('`adrater import` onto a full disk: exit 1, the message says how many rows were taken (each batch whole), and the same file imports again once there is space', { skip }, async (t) => {
  const disk = await smallDisk(t, '1m');
  const file = join(disk, 'ratings.sqlite');
  const db = `sqlite:${file}`;
  t.equal((await runBin(['db', 'init'], { ADRATER_DB: db })).code, 0);
  const work = mkdtempSync(join(tmpdir(), 'adrater-import-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const csv = join(work, 'big.csv');
  const rows = Array.from({ length: 20_000 }, (_, i) => `s${i}-${'x'.repeat(50)}.example,A,some info,2026-01-01,`);
  writeFileSync(csv, ['domain,rating,info,rated_at,expires_at', ...rows].join('\n') + '\n');
  const stored = () => rowsIn(file, 'site_ratings');

  const full = await runBin(['import', csv, '--batch', '500'], { ADRATER_DB: db });
  t.equal(full.code, 1, 'exit 1');
  const m = /SQLite unavailable: SQLITE_FULL: database or disk is full \((\d+) rows taken before it, in whole transactions of up to 500, none of the one that failed; importing the file again is safe\)/.exec(full.stderr);
  t.ok(m, `one line that says how far it got: ${full.stderr.trim()}`);
  t.notMatch(full.stderr, /\n\s+at /, 'no stack');
  const taken = Number(m?.[1]);
  t.ok(taken > 0 && taken < 20_000, `the disk filled part way (${taken} rows)`);
  t.equal(stored(), taken, 'the file holds exactly the rows it says were taken: none of the failed transaction');

  await run('mount', ['-o', 'remount,size=16m', disk]);
  const again = await runBin(['import', csv, '--batch', '500'], { ADRATER_DB: db });
  t.equal(again.code, 0, `with space, the same file again: ${again.stderr.trim()}`);
  t.equal(stored(), 20_000, 'every row, once');
});
