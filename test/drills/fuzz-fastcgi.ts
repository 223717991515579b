// Random and mutated FastCGI streams against a live responder: it never exits, a control
// connection opened before the attack keeps being served, and its memory stays bounded.
import t from 'tap';
import { connect } from 'node:net';
import { rssMb } from '../../lib/bench/responder.js';
import { seeded } from '../helpers/random.js';
import { connectFcgi, encodeRequest } from '../../lib/fastcgi/client.js';
import { encodeRecord, Type } from '../../lib/fastcgi/record.js';
import { parseCgi } from '../helpers/run.js';
import { sqliteStore } from '../helpers/stores.js';
import { startResponder } from '../helpers/fcgi.js';

const { next: random, int } = seeded(Number(process.env.ADRATER_FUZZ_SEED ?? 77)); // another seed (ADRATER_FUZZ_SEED) explores other cases

const params = (q: string) => ({ REQUEST_METHOD: 'GET', QUERY_STRING: q, REMOTE_ADDR: '127.0.0.1' });

/** A valid stream of one to three requests, then mangled in one of several ways. */
function mutatedStream(): Buffer {
  const valid = Buffer.concat(Array.from({ length: 1 + int(3) }, (_, i) => encodeRequest(1 + int(4) + i, params(`url=s${int(1000)}.example&format=${random() < 0.5 ? 'json' : 'xml'}`), Buffer.alloc(int(100), 0x61), random() < 0.5)));
  const bytes = Buffer.from(valid);
  switch (int(7)) {
    case 0: // flip bytes
      for (let i = 0; i < 1 + int(10); i++) bytes[int(bytes.length)] = int(256);
      return bytes;
    case 1: // truncate
      return bytes.subarray(0, int(bytes.length));
    case 2: // random bytes
      return Buffer.from(Array.from({ length: int(3000) }, () => int(256)));
    case 3: // a record of a random type and id with random content
      return Buffer.concat([encodeRecord(int(256), int(65536), Buffer.from(Array.from({ length: int(300) }, () => int(256)))), bytes]);
    case 4: // duplicated middle
      return Buffer.concat([bytes.subarray(0, int(bytes.length)), bytes]);
    case 5: // a PARAMS record whose pairs claim lengths past its end
      return Buffer.concat([bytes.subarray(0, 16), encodeRecord(Type.Params, 1, Buffer.from([0x80, 0xff, 0xff, 0xff, 5, 1, 2])), encodeRecord(Type.Params, 1)]);
    default: // valid, sent in odd pieces
      return bytes;
  }
}

function send(port: number, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.on('data', () => {});
    socket.on('close', () => resolve());
    socket.on('connect', async () => {
      for (let offset = 0; offset < bytes.length; ) {
        const size = 1 + int(200);
        socket.write(bytes.subarray(offset, offset + size));
        offset += size;
        if (random() < 0.3) await new Promise((r) => setImmediate(r));
      }
      setTimeout(() => socket.destroy(), 20 + int(50));
    });
  });
}


t.test('hostile FastCGI streams', async (t) => {
  const store = await sqliteStore();
  t.teardown(() => store.close());
  const responder = await startResponder({ db: store.url });
  t.teardown(() => responder.stop());
  const control = await connectFcgi({ port: responder.port!, host: '127.0.0.1' });
  t.equal(parseCgi((await control.request(params('url=control.example'))).stdout).status, 200);
  const before = rssMb(responder.child.pid!);

  const rounds = Number(process.env.ADRATER_FUZZ_STREAMS ?? 600);
  for (let round = 0; round < rounds; round += 20) {
    await Promise.all(Array.from({ length: 20 }, () => send(responder.port!, mutatedStream())));
    const answer = parseCgi((await control.request(params('url=control.example'))).stdout);
    if (answer.status !== 200) t.fail(`control connection got ${answer.status} after ${round + 20} streams`);
  }
  t.equal(responder.child.exitCode, null, `alive after ${rounds} hostile streams`);
  const after = rssMb(responder.child.pid!);
  t.ok(after < before + 60, `memory bounded: RSS ${before.toFixed(1)} -> ${after.toFixed(1)} MB`);
  t.notMatch(responder.stderr(), /internal error|TypeError|RangeError/, 'no internal errors logged');
  control.close();
  t.equal(await responder.stop(), 0, 'and it still stops cleanly');
});
