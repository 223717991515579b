// The bench report in a real browser: `adrater bench report` on two saved runs (SQLite and
// MariaDB, real results kept in test/fixtures), rendered by Debian's headless Chromium to a
// PNG, as the README's screenshot is made. The page is checked against its results too.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, run } from '../helpers/run.js';
import { checkReport } from '../helpers/report.js';

const CHROMIUM = '/usr/bin/chromium';
// As the machine notes say Chromium must run here: no sandbox as root, nothing fetched.
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--hide-scrollbars'];

t.test('two saved runs, rendered by headless Chromium', { skip: spawnSync(CHROMIUM, ['--version']).error ? 'chromium is not installed' : false }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'adrater-report-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const files = ['bench-sqlite.json', 'bench-mariadb.json'].map((f) => join(ROOT, 'test/fixtures', f));
  const html = join(dir, 'report.html');
  const made = await run(['bench', 'report', ...files, '--out', html], {});
  t.equal(made.code, 0, made.stderr);
  checkReport(t, readFileSync(html, 'utf8'), files.map((f) => JSON.parse(readFileSync(f, 'utf8'))));

  const png = join(dir, 'report.png');
  const shot = spawnSync(CHROMIUM, [...FLAGS, `--user-data-dir=${join(dir, 'profile')}`, '--window-size=1000,1800', `--screenshot=${png}`, `file://${html}`], { encoding: 'utf8', timeout: 60_000 });
  t.match(shot.stdout + shot.stderr, /bytes written to file/, 'Chromium wrote the screenshot');
  const image = readFileSync(png);
  t.same([...image.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG');
  t.same([image.readUInt32BE(16), image.readUInt32BE(20)], [1000, 1800], '1000 x 1800 pixels');
  t.ok(image.length > 50_000, `with something drawn on it (${image.length} bytes)`);
});
