// A CGI run's own MySQL client (lib/store/mysql-wire.ts), its parts checked against the
// protocol's documented packets and against mysql2, its parsers fuzzed, and its connection
// against servers that misbehave: one that never greets, one that hangs up, one that speaks
// garbage. (The real MariaDB: test/integration/cgi-mysql-client.ts.)
import t from 'tap';
import type { Test } from 'tap';
import type { Socket } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { connectWire, parseGreeting, parseRow, scramble, serverError, UnsupportedError, WireError } from '../../lib/store/mysql-wire.js';
import { literal } from '../../lib/store/mysql-cgi.js';
import { ed25519Signature } from '../../lib/store/mysql-ed25519.js';
import { loginEnds, notAGreeting } from '../../lib/store/mysql-greeting.js';
import { seeded } from '../helpers/random.js';
import { socketServer } from '../helpers/socket-server.js';

// mysql2's own mysql_native_password (its package exports hide the file: reached by path).
const require = createRequire(import.meta.url);
const auth41 = require(join(dirname(require.resolve('mysql2')), 'lib/auth_41.js')) as { calculateToken(password: string, nonce1: Buffer, nonce2: Buffer): Buffer };
const mysql2Token = (password: string, nonce: Buffer) => auth41.calculateToken(password, nonce.subarray(0, 8), nonce.subarray(8));
const sha2 = require(join(dirname(require.resolve('mysql2')), 'lib/auth_plugins/caching_sha2_password.js')) as { calculateToken(password: string, nonce: Buffer): Buffer };

/** A MariaDB 10.11 greeting (Protocol::HandshakeV10) as the server writes it, with this nonce and plugin. */
function greeting(nonce: Buffer, plugin = 'mysql_native_password', capabilities = 0xf7fe | (0x81bf << 16)): Buffer {
  const head = Buffer.alloc(4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10);
  let o = 0;
  o = head.writeUInt32LE(42, o); // connection id
  nonce.copy(head, o, 0, 8);
  o += 8;
  head[o++] = 0;
  o = head.writeUInt16LE(capabilities & 0xffff, o);
  head[o++] = 45;
  o = head.writeUInt16LE(2, o);
  o = head.writeUInt16LE(capabilities >>> 16, o);
  head[o++] = 21;
  return Buffer.concat([Buffer.from([10]), Buffer.from('5.5.5-10.11.19-MariaDB\0'), head, nonce.subarray(8, 20), Buffer.from([0]), Buffer.from(plugin + '\0')]);
}

const lengthEncodedString = (s: string | null) => {
  if (s === null) return Buffer.from([0xfb]);
  const b = Buffer.from(s, 'utf8');
  if (b.length < 251) return Buffer.concat([Buffer.from([b.length]), b]);
  const n = Buffer.alloc(3);
  n.writeUInt16LE(b.length, 1);
  n[0] = 0xfc;
  return Buffer.concat([n, b]);
};

t.test('the greeting: capabilities, the 20-byte nonce, the plugin; an ERR greeting is the server error', async (t) => {
  const nonce = Buffer.from('abcdefghijklmnopqrst');
  const parsed = parseGreeting(greeting(nonce));
  t.same(parsed.nonce, nonce);
  t.equal(parsed.plugin, 'mysql_native_password');
  t.ok(parsed.capabilities & 0x80000, 'plugin authentication offered');
  const tooMany = Buffer.concat([Buffer.from([0xff, 0x10, 0x04]), Buffer.from('Too many connections')]);
  t.throws(() => parseGreeting(tooMany), { code: 'ER_CON_COUNT_ERROR', errno: 1040, message: 'Too many connections' });
  t.throws(() => parseGreeting(greeting(nonce, 'x', 0x0200)), { name: 'UnsupportedError' }, 'a server without plugin authentication: mysql2 instead');
  t.throws(() => parseGreeting(greeting(nonce).subarray(0, 30)), { code: 'PROTOCOL_ERROR' }, 'truncated');
});

t.test('ERR packets: the code mysql2 would give for the ones the retry rules read, ERRNO_<n> for others', async (t) => {
  const err = (errno: number, state: string | null, message: string) => {
    const head = Buffer.alloc(3);
    head[0] = 0xff;
    head.writeUInt16LE(errno, 1);
    return serverError(Buffer.concat([head, Buffer.from(state === null ? '' : '#' + state), Buffer.from(message)]));
  };
  t.match(err(1213, '40001', 'Deadlock found'), { code: 'ER_LOCK_DEADLOCK', errno: 1213, sqlState: '40001', message: 'Deadlock found', fatal: false });
  t.match(err(1045, '28000', "Access denied for user 'x'"), { code: 'ER_ACCESS_DENIED_ERROR' });
  t.match(err(1064, '42000', 'You have an error in your SQL syntax'), { code: 'ERRNO_1064', sqlState: '42000' });
  t.match(err(1047, null, 'WSREP has not yet prepared node'), { code: 'ER_UNKNOWN_COM_ERROR', sqlState: undefined, message: 'WSREP has not yet prepared node' });
  t.match(err(1290, 'HY000', 'The MariaDB server is running with the --read-only option'), { code: 'ER_OPTION_PREVENTS_STATEMENT' });
  t.match(err(1180, 'HY000', 'Error while appending streaming replication fragment(provider status: Not connected to Primary Component)'), { code: 'ER_ERROR_DURING_COMMIT' });
  t.match(err(1969, '70100', 'Query execution was interrupted (max_statement_time exceeded)'), { code: 'ER_STATEMENT_TIMEOUT' });
  t.match(err(3024, 'HY000', 'Query execution was interrupted, maximum statement execution time exceeded'), { code: 'ER_QUERY_TIMEOUT' });
  t.match(err(1114, 'HY000', "The table 'rating_queue' is full"), { code: 'ER_RECORD_FILE_FULL' });
  t.match(err(1036, 'HY000', "Table 'rating_queue' is read only"), { code: 'ER_OPEN_AS_READONLY' });
});

t.test('rows: text, NULL, the empty string, UTF-8, a length over 250', async (t) => {
  const long = 'x'.repeat(300);
  const packet = Buffer.concat(['a.example', null, '', 'café ✓', long].map(lengthEncodedString));
  t.same(parseRow(packet), ['a.example', null, '', 'café ✓', long]);
  t.throws(() => parseRow(Buffer.from([5, 0x61])), { code: 'PROTOCOL_ERROR' }, 'a length past the packet');
  t.throws(() => parseRow(Buffer.from([0xfc, 1])), { code: 'PROTOCOL_ERROR' }, 'a truncated length');
});

t.test('fuzz: random packets give a WireError or UnsupportedError, or a parse, and never another exception', async (t) => {
  const random = seeded(7);
  let parsed = 0;
  for (let i = 0; i < 20000; i++) {
    const packet = Buffer.from(Array.from({ length: random.int(80) }, () => random.int(256)));
    if (i % 3 === 0 && packet.length > 0) packet[0] = 10; // past the version check more often
    for (const parse of [parseRow, parseGreeting, serverError]) {
      try {
        parse(packet);
        parsed++;
      } catch (err) {
        if (!(err instanceof WireError || err instanceof UnsupportedError)) t.fail(`${parse.name} threw ${(err as Error).stack} on ${packet.toString('hex')}`);
      }
    }
  }
  t.ok(parsed > 0, `${parsed} parsed`);
});

t.test('mysql_native_password and caching_sha2_password: the tokens mysql2 computes; none without a password', async (t) => {
  const nonce = Buffer.from('0123456789abcdefghij');
  for (const password of ['secret', 'pässwörd ✓', 'x'.repeat(100)]) {
    t.same(await scramble('mysql_native_password', password, nonce), mysql2Token(password, nonce), `native: ${password}`);
    t.same(await scramble('caching_sha2_password', password, nonce), sha2.calculateToken(password, nonce), `caching_sha2: ${password}`);
  }
  t.equal((await scramble('mysql_native_password', '', nonce)).length, 0);
  t.equal((await scramble('caching_sha2_password', '', nonce)).length, 0);
});

t.test('literals need no escaping: hex strings with a utf8mb4 introducer, safe integers, NULL', async (t) => {
  t.equal(literal("a'b\\c"), "_utf8mb4 X'6127625c63'");
  t.equal(literal(''), "_utf8mb4 X''");
  t.equal(literal(42), '42');
  t.equal(literal(null), 'NULL');
  t.throws(() => literal(1.5), TypeError);
  t.throws(() => literal(2 ** 60), TypeError);
});

t.test("loginEnds: the login's answer (OK or ERR) found after the greeting, across chunks; an auth switch or more data is no end", async (t) => {
  const greet = packet(0, greeting(Buffer.alloc(20, 1)));
  const ok = packet(2, Buffer.from([0x00, 0, 0, 2, 0, 0, 0]));
  const none = Buffer.alloc(0);
  t.equal(loginEnds(none, Buffer.concat([greet, ok])), true, 'greeting and OK in one chunk');
  t.equal(loginEnds(none, packet(0, Buffer.from([0xff, 0x10, 0x04, 0x23]))), true, 'an ERR in place of the greeting');
  const switched = loginEnds(none, Buffer.concat([greet, packet(2, Buffer.from('\xfeclient_ed25519\0', 'latin1'))]));
  t.same(switched, none, 'an auth switch: not yet, nothing pending');
  t.equal(loginEnds(switched as Buffer, packet(4, Buffer.from([0xff, 0x15, 0x04]))), true, 'then an ERR');
  t.same(loginEnds(none, packet(2, Buffer.from([0x01, 0x04]))), none, 'more auth data (caching_sha2 wants the password): not yet');
  // Every split of greeting + OK into two chunks: the login ends with the chunk that holds
  // the OK's first byte, not before.
  const both = Buffer.concat([greet, ok]);
  const wrong: number[] = [];
  for (let at = 1; at < both.length; at++) {
    const first = loginEnds(none, both.subarray(0, at));
    const endsWithFirst = at >= greet.length + 5;
    if (endsWithFirst ? first !== true : first === true || loginEnds(first, both.subarray(at)) !== true) wrong.push(at);
  }
  t.same(wrong, [], `each of ${both.length - 1} splits`);
  t.same(loginEnds(none, Buffer.concat([packet(2, none), Buffer.from([1, 0, 0, 3])])), Buffer.from([1, 0, 0, 3]), 'an empty packet is no OK; a header alone is kept');
});

/** A server on loopback that does `greet` with each connection: its port. */
const fakeServer = async (t: Test, greet: (socket: Socket) => void) => ((await socketServer(t, greet)) as { port: number }).port;

const packet = (sequence: number, payload: Buffer) => {
  const head = Buffer.alloc(4);
  head.writeUIntLE(payload.length, 0, 3);
  head[3] = sequence;
  return Buffer.concat([head, payload]);
};
// The connection's behaviour, over Node's stream handles (what a CGI run uses on this Node)
// and over node:net (what it uses for a host name, or where the handles are not as expected).
for (const transport of ['handle', 'net'] as const) {
  const options = (port: number, connectTimeout = 2000) => ({ host: '127.0.0.1', port, user: 'u', password: '', connectTimeout, transport });

  t.test(`${transport}: a server that accepts and never greets: ETIMEDOUT after connectTimeout, saying it connected`, async (t) => {
    const port = await fakeServer(t, () => {});
    const started = Date.now();
    await t.rejects(connectWire(options(port, 300)), {
      code: 'ETIMEDOUT',
      fatal: true,
      message: `connected to 127.0.0.1:${port}, but no MySQL greeting came within 300 ms (a MySQL server that has stalled, or a server of another protocol)`,
    });
    t.ok(Date.now() - started >= 250, 'waited for the time-out');
  });

  t.test(`${transport}: a server that greets and never answers the login: ETIMEDOUT after connectTimeout, saying it greeted`, async (t) => {
    const port = await fakeServer(t, (socket) => socket.write(packet(0, greeting(Buffer.alloc(20, 1)))));
    await t.rejects(connectWire(options(port, 300)), {
      code: 'ETIMEDOUT',
      fatal: true,
      message: `connected to 127.0.0.1:${port}, which sent its MySQL greeting, but the login did not finish within 300 ms (an authentication that hangs, or a proxy waiting for its servers)`,
    });
  });

  // Servers of other protocols that speak first, at a port a database URL named by mistake.
  const speakers: Array<[string, Buffer, string]> = [
    ['NATS', Buffer.from('INFO {"server_id":"NB6KU7","version":"2.9.15"}\r\n'), 'INFO {\\"server_id\\":\\"NB6KU7\\",\\"version\\":\\"2.…", not'],
    ['SSH', Buffer.from('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n'), 'SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\\x0d\\x0a'],
    ['a packet of sequence 1', packet(1, greeting(Buffer.alloc(20, 1))), '\\x'],
    ['a packet of protocol 9', Buffer.concat([Buffer.from([20, 0, 0, 0, 9]), Buffer.alloc(20, 0x41)]), '\\x14\\x00\\x00\\x00\\x09AAAA'],
  ];
  for (const [name, first, shown] of speakers) {
    t.test(`${transport}: a server that speaks first with ${name}: ADRATER_NOT_MYSQL at once, its first bytes named`, async (t) => {
      const port = await fakeServer(t, (socket) => socket.write(first));
      const started = Date.now();
      const err = await connectWire(options(port, 5000)).then(
        () => null,
        (e: WireError) => e,
      );
      t.match(err, { code: 'ADRATER_NOT_MYSQL', fatal: true });
      const message = String(err?.message);
      t.ok(message.startsWith(`127.0.0.1:${port} is not a MySQL server: it spoke first with "`), message);
      t.ok(message.includes(shown), `${message} shows ${shown}`);
      t.ok(Date.now() - started < 2000, 'not after connectTimeout');
    });
  }

  t.test(`${transport}: a server that hangs up mid-handshake: PROTOCOL_CONNECTION_LOST`, async (t) => {
    const port = await fakeServer(t, (socket) => socket.end(packet(0, greeting(Buffer.alloc(20, 1))).subarray(0, 20)));
    await t.rejects(connectWire(options(port)), { code: 'PROTOCOL_CONNECTION_LOST', fatal: true });
  });

  // TLS asked for: the SSL request after the greeting, then the TLS handshake, which a
  // server may leave unanswered or cut; neither may leave the run waiting for ever.
  const tls = { verifyIdentity: false };
  const withSsl = (0xf7fe | 0x800) | (0x81bf << 16); // greeting()'s capabilities, and CLIENT_SSL
  t.test(`${transport}: TLS asked of a server that does not offer it: HANDSHAKE_NO_SSL_SUPPORT`, async (t) => {
    const port = await fakeServer(t, (socket) => socket.write(packet(0, greeting(Buffer.alloc(20, 1))))); // no CLIENT_SSL
    await t.rejects(connectWire({ ...options(port), tls }), { code: 'HANDSHAKE_NO_SSL_SUPPORT', fatal: true });
  });

  t.test(`${transport}: TLS: the SSL request, then silence: ETIMEDOUT after connectTimeout`, async (t) => {
    const seen: Buffer[] = [];
    const port = await fakeServer(t, (socket) => {
      socket.write(packet(0, greeting(Buffer.alloc(20, 1), 'mysql_native_password', withSsl)));
      socket.on('data', (data) => seen.push(data));
    });
    const started = Date.now();
    await t.rejects(connectWire({ ...options(port, 400), tls }), { code: 'ETIMEDOUT', fatal: true, message: /which sent its MySQL greeting, but the login did not finish within 400 ms/ });
    t.ok(Date.now() - started >= 350, 'waited for the time-out');
    const request = Buffer.concat(seen).subarray(0, 36);
    t.same([request.readUIntLE(0, 3), request[3]], [32, 1], 'a 32-byte SSL request, sequence 1');
    t.ok(request.readUInt32LE(4) & 0x800, 'asking for SSL');
  });

  t.test(`${transport}: TLS: the server hangs up during the TLS handshake: PROTOCOL_CONNECTION_LOST`, async (t) => {
    const port = await fakeServer(t, (socket) => {
      socket.write(packet(0, greeting(Buffer.alloc(20, 1), 'mysql_native_password', withSsl)));
      let bytes = 0;
      socket.on('data', (data) => {
        bytes += data.length;
        if (bytes > 36) socket.end(); // the SSL request and the start of the ClientHello
      });
    });
    await t.rejects(connectWire({ ...options(port), tls }), { code: 'PROTOCOL_CONNECTION_LOST', fatal: true });
  });

  t.test(`${transport}: nothing listening: ECONNREFUSED, as mysql2 reports it`, async (t) => {
    await t.rejects(connectWire(options(1)), { code: 'ECONNREFUSED', fatal: true });
  });

  t.test(`${transport}: an auth switch to a method it does not speak: UnsupportedError (the run uses mysql2)`, async (t) => {
    const port = await fakeServer(t, (socket) => {
      socket.write(packet(0, greeting(Buffer.alloc(20, 2))));
      socket.once('data', () => socket.write(packet(2, Buffer.concat([Buffer.from([0xfe]), Buffer.from('auth_gssapi_client\0'), Buffer.from('adrater/db.example\0')]))));
    });
    await t.rejects(connectWire(options(port)), { name: 'UnsupportedError', message: /auth_gssapi_client/ });
  });

  t.test(`${transport}: an auth switch to client_ed25519: the 32-byte nonce signed`, async (t) => {
    const nonce = Buffer.alloc(32, 3);
    let answer = Buffer.alloc(0);
    const port = await fakeServer(t, (socket) => {
      socket.write(packet(0, greeting(Buffer.alloc(20, 2))));
      let step = 0;
      socket.on('data', (data) => {
        step++;
        if (step === 1) socket.write(packet(2, Buffer.concat([Buffer.from([0xfe]), Buffer.from('client_ed25519\0'), nonce, Buffer.from([0])])));
        else if (step === 2) {
          answer = data.subarray(4);
          socket.write(packet(4, Buffer.from([0, 0, 0, 2, 0, 0, 0])));
        }
      });
    });
    const wire = await connectWire({ ...options(port), password: 'pässword' });
    t.equal(answer.length, 64);
    t.same(answer, ed25519Signature('pässword', nonce), 'the signature of the nonce alone (not its trailing NUL)');
    await wire.quit();
  });

  t.test(`${transport}: an auth switch to native again: answered with the new nonce; an answer out of protocol fails the query and the session`, async (t) => {
    const second = Buffer.from('ZYXWVUTSRQPONMLKJIHG');
    const seen: Buffer[] = [];
    const port = await fakeServer(t, (socket) => {
      socket.write(packet(0, greeting(Buffer.alloc(20, 2))));
      let step = 0;
      socket.on('data', (data) => {
        seen.push(data);
        if (step++ === 0) socket.write(packet(2, Buffer.concat([Buffer.from([0xfe]), Buffer.from('mysql_native_password\0'), second, Buffer.from([0])])));
        else if (step === 2) socket.write(packet(4, Buffer.from([0, 0, 0, 2, 0, 0, 0])));
        // One column, its definition, and a row where the EOF after the definitions belongs.
        else socket.write(Buffer.concat([packet(1, Buffer.from([1])), packet(2, Buffer.from('column')), packet(3, Buffer.from([1, 0x61]))]));
      });
    });
    const wire = await connectWire({ ...options(port), password: 'pw' });
    t.same(seen[1].subarray(4), mysql2Token('pw', second), 'the switch was answered with the new nonce');
    await t.rejects(wire.query('SELECT 1'), { code: 'PROTOCOL_ERROR', message: /no EOF after the columns/ });
    await t.rejects(wire.query('SELECT 1'), { code: 'PROTOCOL_ERROR' }, 'the session is over: nothing more is sent');
    await wire.quit();
  });

  /** What a handshake response says: the user, the scramble, the method (no database in these tests). */
  function handshakeResponse(data: Buffer) {
    const payload = data.subarray(4);
    const userEnd = payload.indexOf(0, 32);
    const authLength = payload[userEnd + 1];
    const auth = payload.subarray(userEnd + 2, userEnd + 2 + authLength);
    const pluginStart = userEnd + 2 + authLength;
    return { user: payload.toString('utf8', 32, userEnd), auth, plugin: payload.toString('latin1', pluginStart, payload.indexOf(0, pluginStart)) };
  }

  t.test(`${transport}: MySQL 8's caching_sha2_password: answered in it at once; the server's cached hash (fast auth) lets the run in`, async (t) => {
    const nonce = Buffer.from('MySQL8nonceMySQL8non');
    const responses: Array<ReturnType<typeof handshakeResponse>> = [];
    const port = await fakeServer(t, (socket) => {
      socket.write(packet(0, greeting(nonce, 'caching_sha2_password')));
      let step = 0;
      socket.on('data', (data) => {
        if (step++ === 0) {
          responses.push(handshakeResponse(data));
          socket.write(Buffer.concat([packet(2, Buffer.from([1, 3])), packet(3, Buffer.from([0, 0, 0, 2, 0, 0, 0]))]));
        } else if (data[4] === 0x03) {
          socket.write(Buffer.concat([packet(1, Buffer.from([1])), packet(2, Buffer.from('column')), packet(3, Buffer.from([0xfe, 0, 0, 2, 0])), packet(4, Buffer.from([2, 0x6f, 0x6b])), packet(5, Buffer.from([0xfe, 0, 0, 2, 0]))]));
        }
      });
    });
    const wire = await connectWire({ ...options(port), user: 'app', password: 'pw8' });
    t.match(responses[0], { user: 'app', plugin: 'caching_sha2_password' });
    t.same(responses[0].auth, sha2.calculateToken('pw8', nonce), 'the SHA-256 scramble, as mysql2 makes it');
    t.same(await wire.query('SELECT 1'), [['ok']], 'then statements run as on MariaDB');
    await wire.quit();
  });

  t.test(`${transport}: caching_sha2_password's full authentication over TCP (no cached hash): UnsupportedError, and mysql2 does the RSA exchange`, async (t) => {
    const port = await fakeServer(t, (socket) => {
      socket.write(packet(0, greeting(Buffer.alloc(20, 5), 'caching_sha2_password')));
      socket.once('data', () => socket.write(packet(2, Buffer.from([1, 4]))));
    });
    await t.rejects(connectWire({ ...options(port), password: 'pw8' }), { name: 'UnsupportedError', message: /caching_sha2_password, 0x0104/ });
  });

  t.test(`${transport}: an auth switch from native to caching_sha2_password: the SHA-256 scramble over the new nonce`, async (t) => {
    const second = Buffer.from('switchedNonce0123456');
    const seen: Buffer[] = [];
    const port = await fakeServer(t, (socket) => {
      socket.write(packet(0, greeting(Buffer.alloc(20, 6))));
      socket.on('data', (data) => {
        seen.push(data);
        if (seen.length === 1) socket.write(packet(2, Buffer.concat([Buffer.from([0xfe]), Buffer.from('caching_sha2_password\0'), second, Buffer.from([0])])));
        else socket.write(Buffer.concat([packet(4, Buffer.from([1, 3])), packet(5, Buffer.from([0, 0, 0, 2, 0, 0, 0]))]));
      });
    });
    const wire = await connectWire({ ...options(port), password: 'pw' });
    t.equal(handshakeResponse(seen[0]).plugin, 'mysql_native_password', 'a MariaDB greeting is answered as native');
    t.same(seen[1].subarray(4), sha2.calculateToken('pw', second));
    await wire.quit();
  });

  t.test(`${transport}: fuzz: a server that answers a query with random bytes and hangs up: a result or a WireError, never another exception`, async (t) => {
    const random = seeded(11);
    let answered = 0;
    let failed = 0;
    for (let i = 0; i < 150; i++) {
      const reply = Buffer.from(Array.from({ length: 1 + random.int(60) }, () => random.int(256)));
      // Often a well-framed packet with a random payload, so that the parsers behind the framing get it.
      const framed = i % 2 === 0 ? packet(1, reply) : reply;
      const port = await fakeServer(t, (socket) => {
        socket.write(packet(0, greeting(Buffer.alloc(20, 7))));
        let step = 0;
        socket.on('data', () => (step++ === 0 ? socket.write(packet(2, Buffer.from([0, 0, 0, 2, 0, 0, 0]))) : socket.end(framed)));
      });
      const wire = await connectWire(options(port));
      try {
        await wire.query('SELECT 1');
        answered++;
      } catch (err) {
        if (!(err instanceof WireError)) t.fail(`${(err as Error).stack} after ${framed.toString('hex')}`);
        failed++;
      }
      await wire.quit();
    }
    t.equal(answered + failed, 150, `${answered} answered, ${failed} failed as a WireError`);
  });
}

t.test('notAGreeting: a greeting and an ERR packet sent instead pass; random first bytes are judged, never thrown on', async (t) => {
  t.equal(notAGreeting('db:3306', packet(0, greeting(Buffer.alloc(20, 7)))), null, 'a greeting');
  t.equal(notAGreeting('db:3306', packet(0, Buffer.concat([Buffer.from([0xff, 0x10, 0x04]), Buffer.from('Too many connections')]))), null, 'an ERR packet first (1040)');
  t.equal(notAGreeting('db:3306', Buffer.from([0x4a, 0, 0])), null, 'too short to tell: wait for more');
  t.match(notAGreeting('db:3306', packet(0, Buffer.concat([Buffer.from([10]), Buffer.alloc(5000)]))), /^db:3306 is not a MySQL server: it spoke first with "/, 'a first packet longer than any greeting');
  const random = seeded(3306);
  let judged = 0;
  const unprintable: string[] = [];
  for (let i = 0; i < 2000; i++) {
    const bytes = Buffer.from(Array.from({ length: random.int(64) }, () => random.int(256)));
    const why = notAGreeting('db:3306', bytes);
    if (why === null) continue;
    judged++;
    if (!/^db:3306 is not a MySQL server: it spoke first with "[\x20-\x7e]*…?", not a MySQL greeting$/.test(why)) unprintable.push(why);
  }
  t.ok(judged > 1500, `most random starts are no greeting (${judged} of 2,000)`);
  t.same(unprintable, [], 'each named in printable ASCII, its quotes escaped');
});
