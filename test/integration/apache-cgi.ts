// adrater under real Apache, configured from cgi-bin/apache-cgi.conf: Debian's default
// (mpm_event + mod_cgid, which hands the script a socket as stdin) and mpm_prefork + mod_cgi.
import t from 'tap';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/run.js';
import { eachStore, mysqlStore } from '../helpers/stores.js';
import { cgiConfig, idsOf, startApache, exampleConfig, serverDir } from '../helpers/servers.js';
import { http, http2Post } from '../helpers/http.js';
import { sites, errorOf } from '../helpers/xml.js';

const setups = [
  { name: 'mpm_event + mod_cgid (and HTTP/2)', mpm: 'event', modules: ['cgid', 'http2'] },
  { name: 'mpm_prefork + mod_cgi', mpm: 'prefork', modules: ['cgi'] },
] as const;

for (const setup of setups) {
  t.test(setup.name, (t) =>
    eachStore(t, async (t, store) => {
      const configPath = cgiConfig(t, store, { maxUrls: 10 });
      const protocols = setup.mpm === 'event' ? 'Protocols h2c http/1.1\n' : '';
      const site = protocols + exampleConfig('apache-cgi.conf', { '/opt/adrater': ROOT.replace(/\/$/, ''), '/etc/adrater/adrater.json': configPath });
      const apache = await startApache(setup.mpm, site, [...setup.modules]);
      t.teardown(async () => {
        await apache.stop();
        t.comment('apache error log:\n' + apache.errorLog());
      });
      await store.sql("INSERT INTO site_ratings (domain, rating, info, rated_at, expires_at) VALUES ('fresh.example', 'A', 'ok', '2025-01-01 00:00:00', NULL)");

      const get = await http(apache.port, '/adrater?url=http%3A%2F%2Fwww.fresh.example%2F&url=new.example&url=ftp%3A%2F%2Fx.example%2F&priority=6');
      t.equal(get.status, 200, 'GET: 200');
      t.equal(get.headers['content-type'], 'text/xml; charset=utf-8');
      t.same(sites(get.body).map((s) => [s.domain, s.status]), [['fresh.example', 'rated'], ['new.example', 'queued'], [undefined, 'invalid']]);
      t.same(
        (await store.sql('SELECT domain, priority, requests, source_ip FROM rating_queue')).map((r) => [r.domain, Number(r.priority), Number(r.requests), r.source_ip]),
        [['new.example', 6, 1, '127.0.0.1']],
        'the queue row, source address from REMOTE_ADDR',
      );

      const post = await http(apache.port, '/adrater?format=json', {
        method: 'POST',
        body: 'url=posted.example&url=fresh.example&priority=3',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      });
      t.equal(post.status, 200, 'POST: 200');
      t.same(JSON.parse(post.body).ratings.map((r: { status: string }) => r.status), ['queued', 'rated']);

      // A chunked body: Apache passes it with no CONTENT_LENGTH, to be read to its end.
      const form = { 'Content-Type': 'application/x-www-form-urlencoded', 'Transfer-Encoding': 'chunked' };
      const chunked = await http(apache.port, '/adrater?format=json', { method: 'POST', body: 'url=chunked.example&priority=8', headers: form });
      t.equal(chunked.status, 200, `chunked POST: 200 (${chunked.body})`);
      t.same(JSON.parse(chunked.body).ratings.map((r: { domain: string; status: string }) => [r.domain, r.status]), [['chunked.example', 'queued']]);
      const bigChunked = await http(apache.port, '/adrater', { method: 'POST', body: 'url=' + 'a'.repeat(200_000), headers: form });
      t.equal(bigChunked.status, 413, 'a 200 KB chunked body: 413, not a reset');
      t.equal(errorOf(bigChunked.body).code, 'body-too-large');
      if (setup.mpm === 'event') {
        // HTTP/2 (mod_http2 runs under mpm_event only): a body sent without a length reaches
        // the script as a chunked one does.
        const h2 = await http2Post(apache.port, '/adrater?format=json', 'url=h2.example', 'application/x-www-form-urlencoded');
        t.equal(h2.status, 200, `HTTP/2 POST without a length: 200 (${h2.body})`);
        t.same(JSON.parse(h2.body).ratings.map((r: { domain: string }) => r.domain), ['h2.example']);
      }
      t.same(
        (await store.sql("SELECT domain, priority FROM rating_queue WHERE domain IN ('chunked.example', 'h2.example') ORDER BY domain")).map((r) => [r.domain, Number(r.priority)]),
        setup.mpm === 'event' ? [['chunked.example', 8], ['h2.example', 1]] : [['chunked.example', 8]],
      );

      const put = await http(apache.port, '/adrater?url=a.example', { method: 'PUT', body: 'x'.repeat(20_000), headers: { 'Content-Type': 'text/plain' } });
      t.equal(put.status, 405, 'PUT with a body: 405, not a reset');
      t.equal(put.headers.allow, 'GET, HEAD, POST');
      t.equal(errorOf(put.body).code, 'method-not-allowed');

      const big = await http(apache.port, '/adrater', {
        method: 'POST',
        body: 'url=' + 'a'.repeat(200_000),
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      });
      t.equal(big.status, 413, 'a 200 KB body: 413, not a reset');
      t.equal(errorOf(big.body).code, 'body-too-large');

      const tooMany = await http(apache.port, '/adrater?' + Array.from({ length: 11 }, (_, i) => `url=s${i}.example`).join('&'));
      t.equal(tooMany.status, 400, 'maxUrls from the config file applies');

      const head = await http(apache.port, '/adrater?url=fresh.example', { method: 'HEAD' });
      t.equal(head.status, 200);
      t.equal(head.body, '');

      const isindex = await http(apache.port, '/adrater?db+init');
      t.equal(isindex.status, 400, 'an ISINDEX query is a request, not a command');
      t.equal(errorOf(isindex.body).code, 'no-url');
      t.notMatch(apache.errorLog(), /Premature end|reset by peer|AH01215.*(Error|at )/, 'nothing broken in the error log');
    }),
  );
}

// Under suexec (SuexecUserGroup), Apache runs a script as another user with only suexec's
// safe variables: SetEnv ADRATER_CONFIG never arrives. The README's two-line wrapper, in
// suexec's document root (/var/www), owned by that user, sets it and runs the bin. The
// config file must then be readable by that user, not by www-data.
const SUEXEC = '/usr/lib/apache2/suexec';
t.test('under suexec: the wrapper script brings the configuration', { skip: existsSync(SUEXEC) ? false : 'apache2-suexec-custom is not installed' }, async (t) => {
  const store = await mysqlStore(t);
  if (!store) return;
  t.teardown(() => store.close());
  const { uid, gid } = idsOf('nobody');
  const configDir = serverDir('adrater-config-');
  t.teardown(() => rmSync(configDir, { recursive: true, force: true }));
  const configPath = join(configDir, 'adrater.json');
  writeFileSync(configPath, JSON.stringify({ db: store.url, maxUrls: 10 }));
  chmodSync(configPath, 0o600);
  chownSync(configPath, uid, gid); // the suexec user's, 600: www-data cannot read it
  const scriptDir = `/var/www/adrater-suexec-${process.pid}`;
  mkdirSync(scriptDir, { mode: 0o755 });
  t.teardown(() => rmSync(scriptDir, { recursive: true, force: true }));
  const wrapper = join(scriptDir, 'adrater.cgi');
  writeFileSync(wrapper, `#!/bin/sh\nexport ADRATER_CONFIG=${configPath}\nexec ${join(ROOT, 'bin', 'adrater')}\n`, { mode: 0o755 });
  for (const path of [scriptDir, wrapper]) chownSync(path, uid, gid); // suexec runs only its user's own files
  const site = [
    'LoadModule suexec_module /usr/lib/apache2/modules/mod_suexec.so',
    'SuexecUserGroup nobody nogroup',
    `ScriptAlias /adrater ${wrapper}`,
    `<Directory ${scriptDir}>`,
    '    Require all granted',
    '</Directory>',
  ].join('\n');
  const apache = await startApache('event', site, ['cgid']);
  t.teardown(async () => {
    await apache.stop();
    t.comment('apache error log:\n' + apache.errorLog());
  });
  const get = await http(apache.port, '/adrater?url=suexec.example&priority=4');
  t.equal(get.status, 200, `200 (${get.body})`);
  t.same((await store.sql('SELECT domain, priority FROM rating_queue')).map((r) => [r.domain, Number(r.priority)]), [['suexec.example', 4]], 'queued in the configured database');
  const tooMany = await http(apache.port, '/adrater?' + Array.from({ length: 11 }, (_, i) => `url=s${i}.example`).join('&'));
  t.equal(tooMany.status, 400, 'maxUrls from the config file applies');
  t.match(apache.errorLog(), /suEXEC mechanism enabled/, 'Apache runs CGI through suexec');
  const suexecLog = existsSync('/var/log/apache2/suexec.log') ? readFileSync('/var/log/apache2/suexec.log', 'utf8') : '';
  t.match(suexecLog, new RegExp(`uid: \\(${uid}/nobody\\) gid: \\(${gid}/nogroup\\) cmd: adrater\\.cgi`), 'suexec ran the wrapper as nobody');
});
