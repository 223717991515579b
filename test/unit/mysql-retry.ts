// How a driver error is read as it enters (lib/store/mysql-retry.ts): by its name, mysql2's
// or a CGI run's client's, or by its number for MariaDB's own errors, which mysql2's table
// (MySQL's) does not name or names otherwise.
// The errors are shaped as each driver gives them (seen from the real MariaDB and Galera:
// test/integration/statement-timeout.ts, test/drills/cluster.ts).
import t from 'tap';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { classify, code, notApplied, readAgain, reasonOf, serverLost } from '../../lib/store/mysql-retry.js';
import { DatabaseError, UnavailableError } from '../../lib/core/errors.js';
import { WireError } from '../../lib/store/mysql-wire.js';

const mysql2 = (errno: number, name: string | undefined, message: string) => Object.assign(new Error(message), { errno, code: name, sqlState: 'HY000', fatal: undefined });

t.test("MariaDB's statement time limit: mysql2 gives no name, the number does; a 503, not tried again", async (t) => {
  const stopped = mysql2(1969, undefined, 'Query execution was interrupted (max_statement_time exceeded)');
  t.equal(code(stopped), 'ER_STATEMENT_TIMEOUT');
  t.type(classify(stopped), UnavailableError);
  t.match((classify(stopped) as Error).message, /^MySQL unavailable: ER_STATEMENT_TIMEOUT: Query execution was interrupted/);
  t.notOk(readAgain(stopped), 'a look-up that took too long is not sent again at once');
  t.notOk(serverLost(stopped), 'the server is still the one to use');
  const mysql8 = mysql2(3024, 'ER_QUERY_TIMEOUT', 'Query execution was interrupted, maximum statement execution time exceeded');
  t.type(classify(mysql8), UnavailableError, "MySQL's max_execution_time alike");
});

t.test('a Galera node cut off as a write commits (1180): lost, a 503, the write not tried again', async (t) => {
  const cut = mysql2(1180, 'ER_ERROR_DURING_COMMIT', 'Error while appending streaming replication fragment(provider status: Not connected to Primary Component)');
  t.ok(serverLost(cut), 'the next listed server is used from then on');
  t.notOk(notApplied(cut), 'not known for sure to have taken no effect');
  t.type(classify(cut), UnavailableError);
});

t.test("a server whose disk is full: InnoDB's table full (1114) or Disk full (1021): a 503, not tried again at once", async (t) => {
  const full = mysql2(1114, 'ER_RECORD_FILE_FULL', "The table 'rating_queue' is full");
  t.equal(code(full), 'ER_RECORD_FILE_FULL');
  t.type(classify(full), UnavailableError);
  t.match((classify(full) as Error).message, /^MySQL unavailable: ER_RECORD_FILE_FULL: The table 'rating_queue' is full/);
  t.notOk(notApplied(full), 'no retry loop on the same full disk');
  t.notOk(serverLost(full), 'the server still serves look-ups');
  t.type(classify(mysql2(1021, 'ER_DISK_FULL', 'Disk full (./t/x); waiting for someone to free some space...')), UnavailableError);
});

t.test('InnoDB started read-only (1036): refused before it ran, so the next listed server may take the write', async (t) => {
  const refused = mysql2(1036, 'ER_OPEN_AS_READONLY', "Table 'rating_queue' is read only");
  t.ok(serverLost(refused), 'the next listed server is used');
  t.ok(notApplied(refused), 'a second try counts nothing twice');
  t.type(classify(refused), UnavailableError);
});

t.test('an account the server will not serve: a 503, as a wrong password', async (t) => {
  // MariaDB's 4151 has MySQL's name for another error in mysql2's table: the number decides.
  const locked = mysql2(4151, 'ER_BULK_PARSER_INCOMPLETE_ESCAPE_SEQUENCE', 'Access denied, this account is locked');
  t.equal(code(locked), 'ER_ACCOUNT_HAS_BEEN_LOCKED');
  t.type(classify(locked), UnavailableError);
  t.type(classify(mysql2(3118, 'ER_ACCOUNT_HAS_BEEN_LOCKED', "Access denied for user 'a'@'h'. Account is locked.")), UnavailableError, "MySQL's");
  t.type(classify(mysql2(1862, 'ER_MUST_CHANGE_PASSWORD_LOGIN', 'Your password has expired.')), UnavailableError, 'expired, refused at login');
  t.type(classify(mysql2(1820, 'ER_MUST_CHANGE_PASSWORD', 'You must SET PASSWORD before executing this statement')), UnavailableError, 'expired, let in and refused each statement');
  t.notOk(serverLost(locked), 'not a server lost: the next listed one has the same accounts');
});

t.test("a name wins over the number, but for MariaDB's own numbers; other errors stay as they are (a 500)", async (t) => {
  t.equal(code({ code: 'ER_LOCK_DEADLOCK', errno: 1213 }), 'ER_LOCK_DEADLOCK');
  t.equal(code({ errno: 4242 }), '', 'a number the rules do not read has no name');
  t.equal(code(null), '');
  t.equal(code(undefined), '');
  const wrong = mysql2(1064, 'ER_PARSE_ERROR', 'You have an error in your SQL syntax');
  t.equal(classify(wrong), wrong);
});

t.test("a database that is not adrater's: no table or another shape is the operator's (DatabaseError, the fix named); no grant on a table is 503", async (t) => {
  const missing = classify(mysql2(1146, 'ER_NO_SUCH_TABLE', "Table 'a.site_ratings' doesn't exist"));
  t.type(missing, DatabaseError);
  t.equal((missing as Error).message, "Table 'a.site_ratings' doesn't exist (run adrater db init)");
  // A CGI run's own client names its errors by number from the same table.
  const column = classify({ errno: 1054, code: 'ERRNO_1054', message: "Unknown column 'info' in 'SELECT'" });
  t.type(column, DatabaseError);
  t.match((column as Error).message, /\(a table is not as adrater db init makes it, CONTRACT §5\)$/);
  const denied = classify(mysql2(1142, 'ER_TABLEACCESS_DENIED_ERROR', "INSERT, UPDATE command denied to user 'r'@'localhost' for table `a`.`rating_queue`"));
  t.type(denied, UnavailableError);
  // A host the server blocked (max_connect_errors; never a loopback address, so not met in the integration tests).
  const blocked = mysql2(1129, 'ER_HOST_IS_BLOCKED', "Host '10.0.0.7' is blocked because of many connection errors; unblock with 'mariadb-admin flush-hosts'");
  t.type(classify(blocked), UnavailableError);
  t.notOk(readAgain(blocked), 'not tried again');
});

// A CGI run's own client names a server error from lib/store/mysql-errors.ts only (ERRNO_<n>
// for the rest); a responder's mysql2 from its whole table. A rule that reads a name the
// table lacks holds for the responder and not for the CGI run (1203, max_user_connections:
// a 503 from one, a 500 with a stack from the other, until stop 36).
t.test("every server error mysql2 names is read alike from a CGI run's client and from mysql2", async (t) => {
  const require = createRequire(import.meta.url);
  // Not among mysql2's exports: by path, as lib/build/build.mjs finds it.
  const names = require(join(dirname(require.resolve('mysql2')), 'lib', 'constants', 'errors.js')) as Record<string, string | number>;
  const kind = (err: unknown) => {
    const read = classify(err);
    return `${read === err ? 'as it is' : (read as Error).name}${serverLost(err) ? ', lost' : ''}${notApplied(err) ? ', not applied' : ''}`;
  };
  const differ: string[] = [];
  let numbers = 0;
  for (const [key, name] of Object.entries(names)) {
    const errno = Number(key);
    if (!Number.isInteger(errno) || typeof name !== 'string') continue;
    numbers++;
    const fromMysql2 = mysql2(errno, name, 'a server error');
    const fromWire = new WireError('a server error', `ERRNO_${errno}`, false, errno, 'HY000');
    if (kind(fromMysql2) !== kind(fromWire)) differ.push(`${errno} ${name}: mysql2 ${kind(fromMysql2)}, CGI ${kind(fromWire)}`);
  }
  t.ok(numbers > 1000, `mysql2's table read (${numbers} numbers)`);
  t.same(differ, [], 'read alike');
});

t.test("a failover line's reason: the code, and the message where it says more", async (t) => {
  const wsrep = mysql2(1047, 'ER_UNKNOWN_COM_ERROR', 'WSREP has not yet prepared node for application use');
  t.equal(reasonOf(wsrep, 'lost'), 'ER_UNKNOWN_COM_ERROR: WSREP has not yet prepared node for application use');
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3306'), { code: 'ECONNREFUSED' });
  t.equal(reasonOf(refused, 'unreachable'), 'ECONNREFUSED', 'a message that only repeats the code is left out');
  t.equal(reasonOf(new Error(''), 'lost'), 'lost', 'no code, no message: the fallback');
  t.equal(reasonOf(undefined, 'unreachable'), 'unreachable');
  const stalled = new WireError('connected to 127.0.0.1:3306, which sent its MySQL greeting, but the login did not finish within 3000 ms', 'ETIMEDOUT', true);
  t.match(reasonOf(stalled, 'unreachable'), /^ETIMEDOUT: connected to 127\.0\.0\.1:3306, which sent its MySQL greeting/);
});
