// A server's init_connect, run for the accounts it applies to (not SUPER ones) before their
// first statement. One that sets another character set (`SET NAMES latin1`, or the once
// common `SET NAMES utf8`, three bytes a character at most), as legacy configurations do:
// text with characters beyond Latin-1 and beyond three bytes goes in and comes out as
// written, through a command, a CGI run (its own client) and a responder. Before: ☕ came out
// as ? from the responder and as mangled bytes from a CGI run, and `adrater rating` stored
// other characters. One that fails: the server closes every such connection (1184), which is
// the database not there for us (503 with the server's reason), not a 500 with a stack.
import t from 'tap';
import { privateMariadb } from '../helpers/mariadb.js';
import { cgi, run } from '../helpers/run.js';
import { answerOnce, getParams, startResponder } from '../helpers/fcgi.js';
import { sites } from '../helpers/xml.js';
import { refusedBoth } from '../helpers/refused.js';

const INFO = 'café ☕ naïve — 𝄞';

t.test("the server's init_connect: another character set, text as written; a failing one, 503", async (t) => {
  const server = await privateMariadb({ grants: true });
  t.teardown(() => server.destroy());
  await server.database('cs');
  await server.sql("CREATE USER 'app'@'%' IDENTIFIED BY 'pw'");
  await server.sql("GRANT ALL ON cs.* TO 'app'@'%'");
  const url = `mysql://app:pw@127.0.0.1:${server.port}/cs`;
  for (const names of ['latin1', 'utf8']) {
    await t.test(`SET NAMES ${names}`, async (t) => {
      await server.sql(`SET GLOBAL init_connect = 'SET NAMES ${names}'`);
      await server.sql('DELETE FROM cs.site_ratings');
      const rated = await run(['rating', 'cafe.example', 'Å', '--info', INFO], { ADRATER_DB: url });
      t.equal(rated.code, 0, rated.stderr);
      t.same(await server.sql("SELECT HEX(rating) AS r, HEX(info) AS i FROM cs.site_ratings WHERE domain = 'cafe.example'"),
        [{ r: Buffer.from('Å').toString('hex').toUpperCase(), i: Buffer.from(INFO).toString('hex').toUpperCase() }], 'stored as UTF-8, byte for byte');
      const viaCgi = await cgi(url, { query: 'url=cafe.example' });
      t.same(sites(viaCgi.body).map((s) => [s.rating, s.info]), [['Å', INFO]], 'a CGI run reads it as written');
      const responder = await startResponder({ db: url });
      const viaResponder = await answerOnce(responder.port!, getParams('url=cafe.example'));
      await responder.stop();
      t.equal(viaResponder.body, viaCgi.body, 'the responder answers the same document');
    });
  }
  await t.test('an init_connect that fails', async (t) => {
    await server.sql("SET GLOBAL init_connect = 'SELEC 1'");
    t.teardown(() => server.sql("SET GLOBAL init_connect = ''"));
    await refusedBoth(t, url, /ER_NEW_ABORTING_CONNECTION: Aborted connection \d+ to db: 'cs' user: 'app' host: '[^']*' \(init_connect command failed\)/);
  });
});
