// adrater as a plain CGI script under real lighttpd (mod_cgi), configured from
// cgi-bin/lighttpd-cgi.conf: the same documents as a CGI run started by hand, a chunked
// POST (lighttpd reads the body and gives its length), a HEAD, an error status.
import t from 'tap';
import { cgi, ROOT } from '../helpers/run.js';
import { eachStore } from '../helpers/stores.js';
import { cgiConfig, startLighttpd, exampleConfig } from '../helpers/servers.js';
import { http } from '../helpers/http.js';
import { errorOf } from '../helpers/xml.js';

const QUERY = 'url=http%3A%2F%2Fwww.fresh.example%2F&url=new.example&url=ftp%3A%2F%2Fx.example%2F&priority=6';

t.test('lighttpd mod_cgi', (t) =>
  eachStore(t, async (t, store) => {
    const configPath = cgiConfig(t, store);
    const lighttpd = await startLighttpd(exampleConfig('lighttpd-cgi.conf', { '/opt/adrater': ROOT.replace(/\/$/, ''), '/etc/adrater/adrater.json': configPath }));
    t.teardown(() => lighttpd.stop());
    await store.sql("INSERT INTO site_ratings (domain, rating, info, rated_at, expires_at) VALUES ('fresh.example', 'A', 'ok', '2025-01-01 00:00:00', NULL)");
    const requests = async () => Number((await store.sql("SELECT requests FROM rating_queue WHERE domain = 'new.example'"))[0]?.requests ?? 0);

    const reference = await cgi(store.url, { query: QUERY });
    t.equal(reference.status, 200);
    const get = await http(lighttpd.port, '/adrater?' + QUERY);
    t.equal(get.status, 200, 'GET: 200');
    t.equal(get.body, reference.body, 'GET: the document of a CGI run started by hand');
    t.equal(get.headers['content-type'], 'text/xml; charset=utf-8');
    const posted = await http(lighttpd.port, '/adrater', { method: 'POST', body: QUERY, headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Transfer-Encoding': 'chunked' } });
    t.equal(posted.status, 200, 'chunked POST: 200');
    t.equal(posted.body, reference.body, 'chunked POST: the same document');
    t.equal(await requests(), 3, 'each of the three queued new.example');
    const head = await http(lighttpd.port, '/adrater?' + QUERY, { method: 'HEAD' });
    t.equal(head.status, 200, 'HEAD: 200');
    t.equal(head.body, '', 'HEAD: no body');
    const bad = await http(lighttpd.port, '/adrater?url=a.example&priority=x');
    t.equal(bad.status, 400, 'an error status passes through');
    t.equal(errorOf(bad.body).code, 'bad-priority');
    t.notMatch(lighttpd.errorLog(), /\(mod_cgi|error/i, `clean error log: ${lighttpd.errorLog()}`);
  }),
);
