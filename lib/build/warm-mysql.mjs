// A MySQL server for the build's warm-up run of a CGI look-up on MySQL (lib/build/build.mjs).
// V8's code cache holds only the functions a run compiled: a warm-up that found no server
// left out the handshake, the query, the row parser and the queue write, and every CGI run
// then compiled them afresh (~2 ms of a MySQL run). This is mysql2's own server side,
// answering as MariaDB would in shape: a greeting, the handshake's OK, a result set for a
// SELECT (one row, as site_ratings holds it), an OK for any other statement. It stores
// nothing and listens on loopback only, for the one run.
import mysql from 'mysql2';

const { Types } = mysql;
const UTF8MB4 = 45; // utf8mb4_general_ci, what the client asks for
const ASCII_BIN = 65;

// What MariaDB offers that a look-up uses (the protocol's capability flags): not TLS or
// compression (the client asks for neither), nor session tracking, which mysql2's server
// side does not write.
const CAPABILITIES = [
  0x1, // LONG_PASSWORD
  0x2, // FOUND_ROWS
  0x4, // LONG_FLAG
  0x8, // CONNECT_WITH_DB
  0x200, // PROTOCOL_41
  0x2000, // TRANSACTIONS
  0x8000, // SECURE_CONNECTION
  0x10000, // MULTI_STATEMENTS
  0x20000, // MULTI_RESULTS
  0x40000, // PS_MULTI_RESULTS
  0x80000, // PLUGIN_AUTH
  0x100000, // CONNECT_ATTRS
  0x200000, // PLUGIN_AUTH_LENENC_CLIENT_DATA
].reduce((flags, flag) => flags | flag, 0);

const column = (name, columnType, characterSet, columnLength) => ({
  catalog: 'def', schema: 'warm', table: 'site_ratings', orgTable: 'site_ratings', name, orgName: name,
  characterSet, columnLength, columnType, flags: 0, decimals: 0,
});
const RATING_COLUMNS = [
  column('domain', Types.VAR_STRING, ASCII_BIN, 253),
  column('rating', Types.VAR_STRING, UTF8MB4, 64),
  column('info', Types.VAR_STRING, UTF8MB4, 4096),
  column('rated_at', Types.DATETIME, 63, 19),
  column('expires_at', Types.DATETIME, 63, 19),
];

/**
 * Runs `work(url)` with the server listening; `url` is the ADRATER_DB that reaches it. The
 * result set answers a look-up of `ratedDomain`, so that the run renders a rated site.
 * Resolves to work's result, the statements the server saw, in order, and how many
 * sessions the client ended with QUIT (one without it is an aborted connection to MariaDB).
 */
export async function withWarmMysql(ratedDomain, work) {
  const statements = [];
  let quits = 0;
  const server = mysql.createServer((conn) => {
    conn.on('error', () => {}); // a client that exits without waiting for the close: nothing to report
    conn.on('quit', () => {
      quits++;
      conn.stream.end();
    });
    // Each command from the client starts its packets at sequence 0; mysql2's server side
    // counts on from its last answer unless told.
    const answered = (write) => {
      write();
      conn.sequenceId = 0;
    };
    conn.serverHandshake({
      protocolVersion: 10,
      serverVersion: '10.11.0-MariaDB-adrater-warm',
      connectionId: 1,
      statusFlags: 2, // autocommit
      characterSet: UTF8MB4,
      capabilityFlags: CAPABILITIES,
      authCallback: (_, accept) => answered(accept),
    });
    conn.on('query', (sql) => {
      statements.push(sql);
      if (!/^\s*select\b/i.test(sql)) return answered(() => conn.writeOk({ affectedRows: 1 }));
      answered(() => {
        conn.writeColumns(RATING_COLUMNS);
        conn.writeTextRow([ratedDomain, 'A', 'warm-up row', '2026-01-01 00:00:00', '2999-01-01 00:00:00']);
        conn.writeEof();
      });
    });
  });
  const listener = server._server; // mysql2's Server wraps a net.Server and offers no address()
  if (typeof listener?.address !== 'function') throw new Error("mysql2's server no longer exposes its net.Server (_server): update lib/build/warm-mysql.mjs");
  await new Promise((resolve, reject) => listener.once('error', reject).listen(0, '127.0.0.1', resolve));
  let result;
  try {
    result = await work(`mysql://warm@127.0.0.1:${listener.address().port}/warm`);
  } finally {
    // Resolves once every connection has closed: by then each QUIT sent has been read.
    await new Promise((resolve) => server.close(resolve));
  }
  return { result, statements, quits };
}
