// A 200 means the request's queue rows are committed: the responder is killed -9 the moment
// an answer has arrived, and the row must be in the database. Sixteen requests at once, so
// that their queue writes are grouped into shared batches, on each store.
import t from 'tap';
import { connect } from 'node:net';
import { encodeRequest } from '../../lib/fastcgi/client.js';
import { recordReader, Type } from '../../lib/fastcgi/record.js';
import { eachStore } from '../helpers/stores.js';
import { startResponder } from '../helpers/fcgi.js';
import { parseCgi } from '../helpers/run.js';

const ROUNDS = Number(process.env.ADRATER_DRILL_ROUNDS ?? 5);

t.test('killed -9 right after a 200: its queue row is there', async (t) => {
  await eachStore(t, async (t, store) => {
    let answered = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const responder = await startResponder({ db: store.url });
      const socket = connect(responder.port!, '127.0.0.1');
      await new Promise((r) => socket.once('connect', r));
      const read = recordReader();
      const stdout = new Map<number, Buffer[]>();
      const first = new Promise<number>((resolve) => {
        socket.on('data', (chunk) => {
          for (const record of read(chunk)) {
            if (record.type === Type.Stdout) stdout.set(record.requestId, [...(stdout.get(record.requestId) ?? []), Buffer.from(record.content)]);
            if (record.type === Type.EndRequest) {
              // The first complete answer: the responder dies now, before anything else it might do.
              responder.child.kill('SIGKILL');
              resolve(record.requestId);
            }
          }
        });
      });
      socket.on('error', () => {});
      socket.write(Buffer.concat(Array.from({ length: 16 }, (_, i) => encodeRequest(i + 1, { REQUEST_METHOD: 'GET', QUERY_STRING: `url=r${round}-q${i + 1}.example`, REMOTE_ADDR: '127.0.0.1' }))));
      const id = await first;
      await responder.exited;
      socket.destroy();
      const status = parseCgi(Buffer.concat(stdout.get(id) ?? [])).status;
      if (status !== 200) continue;
      answered++;
      const rows = await store.sql('SELECT requests FROM rating_queue WHERE domain = ?', [`r${round}-q${id}.example`]);
      t.same(rows, [{ requests: 1 }], `round ${round}: request ${id} was answered 200, and its row is committed`);
    }
    t.ok(answered > 0, `${answered} of ${ROUNDS} rounds killed right after a 200`);
  });
});
