// A database URL naming the port of a server of another protocol (the usual slip: a port
// number from the wrong line). One that speaks first (NATS greets with `INFO {…}`, SSH with
// its version) is told apart at its first bytes; one that waits for its client (PostgreSQL,
// Redis) takes connectTimeout, and the line then says the connection was made and no
// greeting came. Before stop 37 both waited out connectTimeout and said `connect ETIMEDOUT`,
// as if the host were unreachable. A CGI run (its own client), a responder and a command
// (mysql2) alike; real servers of the two kinds are stood in for by a socket that writes
// what NATS writes, and one that writes nothing.
import t from 'tap';
import { run } from '../helpers/run.js';
import { greetsThenSilent, socketServer } from '../helpers/socket-server.js';
import { refusedBoth } from '../helpers/refused.js';

const NATS_INFO = 'INFO {"server_id":"NB6KU7VDEIKCOF6M36P4K","server_name":"nats","version":"2.9.15","proto":1}\r\n';

t.test('a server that speaks first with something else: 503 at once, its first bytes in the line', async (t) => {
  const { port } = (await socketServer(t, (socket) => socket.write(NATS_INFO))) as { port: number };
  const url = `mysql://app:pw@127.0.0.1:${port}/adrater?connectTimeout=10000`;
  const started = Date.now();
  const reason = new RegExp(`503 database unavailable: MySQL unavailable: ADRATER_NOT_MYSQL: 127\\.0\\.0\\.1:${port} is not a MySQL server: it spoke first with "INFO \\{\\\\"server_id\\\\"`);
  await refusedBoth(t, url, reason);
  t.ok(Date.now() - started < 8000, 'neither waited for connectTimeout (10 s)');
  const command = await run(['queue'], { ADRATER_DB: url });
  t.equal(command.code, 1, 'a command exits 1');
  t.match(command.stderr, `127.0.0.1:${port} is not a MySQL server`);
});

t.test('a server that says nothing: 503 after connectTimeout, saying the connection was made', async (t) => {
  const { port } = (await socketServer(t, () => {})) as { port: number };
  const url = `mysql://app:pw@127.0.0.1:${port}/adrater?connectTimeout=300`;
  const reason = new RegExp(`503 database unavailable: MySQL unavailable: ETIMEDOUT: connected to 127\\.0\\.0\\.1:${port}, but no MySQL greeting came within 300 ms`);
  await refusedBoth(t, url, reason);
  const command = await run(['queue'], { ADRATER_DB: url });
  t.equal(command.code, 1, 'a command exits 1');
  t.match(command.stderr, 'but no MySQL greeting came within 300 ms');
});

// A server that greets and then leaves the login unanswered, stood in for by a socket that
// relays MariaDB's own greeting (greetsThenSilent). Before stop 38 the line said `connect
// ETIMEDOUT`, as if the host were unreachable.
t.test('a server that greets and never ends the login: 503 after connectTimeout, saying it greeted', async (t) => {
  const port = await greetsThenSilent(t, 3306);
  const url = `mysql://root@127.0.0.1:${port}/test?connectTimeout=300`;
  const reason = new RegExp(`503 database unavailable: MySQL unavailable: ETIMEDOUT: connected to 127\\.0\\.0\\.1:${port}, which sent its MySQL greeting, but the login did not finish within 300 ms`);
  await refusedBoth(t, url, reason);
  const command = await run(['queue'], { ADRATER_DB: url });
  t.equal(command.code, 1, 'a command exits 1');
  t.match(command.stderr, 'which sent its MySQL greeting, but the login did not finish within 300 ms');
});
