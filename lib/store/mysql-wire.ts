// The few messages of the MySQL client/server protocol that a CGI run's look-up needs, spoken
// directly: connect, authenticate (mysql_native_password, MariaDB's default, MariaDB's
// client_ed25519, and MySQL 8's caching_sha2_password when the server has the account's hash
// cached), text statements and their rows, quit. A CGI run then never loads mysql2, whose
// load and cold handshake were the largest part of a run on MySQL (README "Performance").
// Anything else the server asks for (another method: PAM, GSSAPI; caching_sha2's full
// authentication over TCP, which needs the server's RSA key) is an UnsupportedError, and the
// run opens mysql2 instead. Errors carry mysql2's codes (ECONNREFUSED,
// PROTOCOL_CONNECTION_LOST, ER_ACCESS_DENIED_ERROR …), so that lib/store/mysql-retry.ts
// reads them alike.
import { openWireSocket } from './wire-socket.js';
import { SERVER_ERROR_NAMES } from './mysql-errors.js';
import { noGreeting, noLogin, NOT_MYSQL, notAGreeting, serverLabel } from './mysql-greeting.js';
import type { WireSocket } from './wire-socket.js';

export interface WireOptions {
  host?: string;
  port?: number;
  socketPath?: string;
  user: string;
  password: string;
  database?: string;
  connectTimeout: number;
  /** 'net' connects through node:net even where Node's stream handles would do (tests). */
  transport?: 'handle' | 'net';
  /**
   * TLS, the server's certificate verified against `ca` (Node's CAs when none), and its
   * name against the host when `verifyIdentity` (a host name; an address is vouched for by
   * the CA alone, as mysql2 does for the responder); `cert` and `key`, a client certificate.
   */
  tls?: { ca?: string; cert?: string; key?: string; verifyIdentity: boolean };
}

/** A row of a result set: each column's text, or null for SQL NULL. */
export type WireRow = Array<string | null>;

export interface Wire {
  /** One statement: its rows when it returns a result set, else none. */
  query(sql: string): Promise<WireRow[]>;
  /**
   * Whether the server said, after the last statement without rows, that a transaction is
   * open (SERVER_STATUS_IN_TRANS): with autocommit off for the session (the server's global
   * default, or its init_connect), a write is not committed until COMMIT.
   */
  inTransaction(): boolean;
  /** Ends the session (COM_QUIT); the socket then closes without holding the process open. */
  quit(): Promise<void>;
}

/** An error from the server (an ERR packet) or from the connection, with mysql2's code. */
export class WireError extends Error {
  name = 'WireError';
  constructor(
    message: string,
    readonly code: string,
    readonly fatal: boolean,
    readonly errno?: number,
    readonly sqlState?: string,
  ) {
    super(message);
  }
}

/** The server wants what this client does not speak: use mysql2. */
export class UnsupportedError extends Error {
  name = 'UnsupportedError';
}

// A status flag of OK packets: a transaction is open.
const SERVER_STATUS_IN_TRANS = 0x1;

// Capability flags (the protocol's names).
const LONG_PASSWORD = 0x1;
const LONG_FLAG = 0x4;
const CONNECT_WITH_DB = 0x8;
const PROTOCOL_41 = 0x200;
const TRANSACTIONS = 0x2000;
const SSL = 0x800;
const SECURE_CONNECTION = 0x8000;
const PLUGIN_AUTH = 0x80000;
const NEEDED = PROTOCOL_41 | SECURE_CONNECTION | PLUGIN_AUTH;
const UTF8MB4_GENERAL_CI = 45; // what mysql2 asks for with charset utf8mb4
const MAX_PACKET = 0xffffff; // a longer payload comes in parts: never for a look-up's rows
const NATIVE = 'mysql_native_password';
const CACHING_SHA2 = 'caching_sha2_password';
const ED25519 = 'client_ed25519';
type Spoken = typeof NATIVE | typeof CACHING_SHA2 | typeof ED25519;

/** The payload of an ERR packet as a WireError (not fatal: the session goes on). */
export function serverError(payload: Buffer): WireError {
  const errno = payload.length >= 3 ? payload.readUInt16LE(1) : 0;
  const marked = payload[3] === 0x23; // '#': a SQL state follows
  const sqlState = marked ? payload.toString('latin1', 4, 9) : undefined;
  const message = payload.toString('utf8', marked ? 9 : 3);
  // Named as mysql2 names them where the retry rules read them; any other is ERRNO_<n>, its
  // message saying what it is.
  return new WireError(message, SERVER_ERROR_NAMES.get(errno) ?? `ERRNO_${errno}`, false, errno, sqlState);
}

const protocolError = (what: string) => new WireError(`MySQL protocol: ${what}`, 'PROTOCOL_ERROR', true);

/** A length-encoded integer at `offset`: [value, offset after it]. */
function lengthEncoded(payload: Buffer, offset: number): [number, number] {
  const first = payload[offset];
  if (first === undefined) throw protocolError('truncated length');
  if (first < 0xfb) return [first, offset + 1];
  if (first === 0xfc && offset + 3 <= payload.length) return [payload.readUInt16LE(offset + 1), offset + 3];
  if (first === 0xfd && offset + 4 <= payload.length) return [payload.readUIntLE(offset + 1, 3), offset + 4];
  if (first === 0xfe && offset + 9 <= payload.length) return [Number(payload.readBigUInt64LE(offset + 1)), offset + 9];
  throw protocolError('bad length');
}

/** A text-protocol row: each column a length-encoded string, or 0xfb for NULL. */
export function parseRow(payload: Buffer): WireRow {
  const row: WireRow = [];
  for (let offset = 0; offset < payload.length; ) {
    if (payload[offset] === 0xfb) {
      row.push(null);
      offset++;
      continue;
    }
    const [length, start] = lengthEncoded(payload, offset);
    if (start + length > payload.length) throw protocolError('truncated row');
    row.push(payload.toString('utf8', start, start + length));
    offset = start + length;
  }
  return row;
}

/** An EOF packet (0xfe and under 9 bytes): a row may start with 0xfe too, as a long length. */
const isEof = (payload: Buffer) => payload[0] === 0xfe && payload.length < 9;

/** What the greeting (Protocol::HandshakeV10) says that the answer needs. */
export function parseGreeting(payload: Buffer): { capabilities: number; nonce: Buffer; plugin: string } {
  if (payload[0] === 0xff) throw serverError(payload);
  if (payload[0] !== 10) throw protocolError(`greeting version ${payload[0]}`);
  const versionEnd = payload.indexOf(0, 1);
  if (versionEnd < 0 || versionEnd + 32 > payload.length) throw protocolError('truncated greeting');
  let offset = versionEnd + 1 + 4; // the connection id
  const nonceStart = payload.subarray(offset, offset + 8);
  offset += 9; // and a filler byte
  const capabilities = payload.readUInt16LE(offset) | (payload.readUInt16LE(offset + 5) << 16);
  const nonceLength = payload[offset + 7];
  offset += 18; // flags, character set, status, upper flags, nonce length, 10 reserved bytes
  if ((capabilities & NEEDED) !== NEEDED) throw new UnsupportedError('the server speaks no 4.1 protocol with plugin authentication');
  const restLength = Math.max(13, nonceLength - 8);
  if (offset + restLength > payload.length) throw protocolError('truncated greeting');
  const nonce = Buffer.concat([nonceStart, payload.subarray(offset, offset + restLength - 1)]); // the last byte is a NUL
  offset += restLength;
  const pluginEnd = payload.indexOf(0, offset);
  return { capabilities, nonce, plugin: payload.toString('latin1', offset, pluginEnd < 0 ? payload.length : pluginEnd) };
}

/**
 * The scramble of `password` that `plugin` sends for `nonce`: H(password) XOR H(a hash of
 * H(H(password)) and the nonce), with H = SHA1 for mysql_native_password (the nonce first)
 * and SHA256 for caching_sha2_password (the nonce last). None for no password.
 */
export async function scramble(plugin: Spoken, password: string, nonce: Buffer): Promise<Buffer> {
  // Loaded only for such an account.
  if (plugin === ED25519) return (await import('./mysql-ed25519.js')).ed25519Signature(password, nonce);
  if (password === '') return Buffer.alloc(0);
  // Loaded only for a password: crypto costs a CGI run ~1 ms, and a local root often has none.
  const { createHash } = await import('node:crypto');
  const algorithm = plugin === NATIVE ? 'sha1' : 'sha256';
  const hash = (...parts: Buffer[]) => parts.reduce((h, part) => h.update(part), createHash(algorithm)).digest();
  const stage1 = hash(Buffer.from(password, 'utf8'));
  const token = plugin === NATIVE ? hash(nonce, hash(stage1)) : hash(hash(stage1), nonce);
  for (let i = 0; i < token.length; i++) token[i] ^= stage1[i];
  return token;
}

const spoken = (plugin: string): plugin is Spoken => plugin === NATIVE || plugin === CACHING_SHA2 || plugin === ED25519;
// The nonce an auth switch carries: 20 bytes, and client_ed25519's 32.
const nonceLength = (plugin: Spoken) => (plugin === ED25519 ? 32 : 20);

/** The capabilities this client asks for. */
function capabilitiesOf(options: WireOptions, serverCapabilities: number): number {
  const withDb = options.database !== undefined;
  if (withDb && (serverCapabilities & CONNECT_WITH_DB) === 0) throw new UnsupportedError('the server takes no database in the handshake');
  return LONG_PASSWORD | LONG_FLAG | PROTOCOL_41 | TRANSACTIONS | SECURE_CONNECTION | PLUGIN_AUTH | (withDb ? CONNECT_WITH_DB : 0) | (options.tls ? SSL : 0);
}

/** The fixed part of the handshake response, which is all of the SSL request (Protocol::SSLRequest). */
function handshakeHead(capabilities: number): Buffer {
  const head = Buffer.alloc(32);
  head.writeUInt32LE(capabilities, 0);
  head.writeUInt32LE(MAX_PACKET, 4);
  head[8] = UTF8MB4_GENERAL_CI;
  return head;
}

/** The handshake response (Protocol::HandshakeResponse41). */
function handshakeResponse(options: WireOptions, capabilities: number, plugin: string, auth: Buffer): Buffer {
  const withDb = (capabilities & CONNECT_WITH_DB) !== 0;
  const nul = Buffer.alloc(1);
  return Buffer.concat([
    handshakeHead(capabilities),
    Buffer.from(options.user, 'utf8'),
    nul,
    Buffer.from([auth.length]),
    auth,
    ...(withDb ? [Buffer.from(options.database!, 'utf8'), nul] : []),
    Buffer.from(plugin, 'latin1'),
    nul,
  ]);
}

/** Connects and authenticates; rejects with a WireError (or UnsupportedError) and leaves no socket open. */
export function connectWire(options: WireOptions): Promise<Wire> {
  let socket: WireSocket | null = null;
  const packets: Buffer[] = [];
  let buffered: Buffer | null = null;
  let waiting: { resolve(p: Buffer): void; reject(e: Error): void } | null = null;
  let failure: WireError | null = null;
  let sequence = 0;

  const settle = () => {
    if (!waiting) return;
    const next = packets.shift();
    if (next) waiting.resolve(next);
    else if (failure) waiting.reject(failure);
    else return;
    waiting = null;
  };
  let connected = false;
  let greeted = false;
  const received = (chunk: Buffer) => {
    if (!greeted) {
      greeted = true;
      const message = notAGreeting(serverLabel(options), chunk);
      if (message) return fail(new WireError(message, NOT_MYSQL, true));
    }
    let data = buffered ? Buffer.concat([buffered, chunk]) : chunk;
    while (data.length >= 4) {
      const length = data.readUIntLE(0, 3);
      if (length === MAX_PACKET) return fail(protocolError('a packet over 16 MB'));
      if (data.length < 4 + length) break;
      sequence = (data[3] + 1) & 0xff;
      packets.push(data.subarray(4, 4 + length));
      data = data.subarray(4 + length);
    }
    buffered = data.length > 0 ? data : null;
    settle();
  };
  // Set while the TLS handshake is under way, which waits on no packet: the connection lost
  // or timed out meanwhile must end that wait too.
  let handshaking: ((err: WireError) => void) | null = null;
  const fail = (err: WireError) => {
    failure ??= err;
    socket?.destroy();
    settle();
    handshaking?.(failure);
  };
  // Where the socket's bytes go: to the packets, or through TLS first once it has started.
  let route = received;
  const events = {
    connect: () => (connected = true),
    data: (chunk: Buffer) => route(chunk),
    error: (code: string, message: string, errno?: number) => fail(new WireError(message, code, true, errno)),
    close: () => fail(new WireError('Connection lost: The server closed the connection.', 'PROTOCOL_CONNECTION_LOST', true)),
  };

  const next = () => new Promise<Buffer>((resolve, reject) => ((waiting = { resolve, reject }), settle()));
  let write = (bytes: Buffer, written?: () => void) => socket!.write(bytes, written);
  const send = (payload: Buffer, written?: () => void) => {
    const head = Buffer.alloc(4);
    head.writeUIntLE(payload.length, 0, 3);
    head[3] = sequence;
    sequence = (sequence + 1) & 0xff;
    write(Buffer.concat([head, payload]), written);
  };

  /**
   * TLS from here on, over the same socket (Node's tls over a Duplex of it: loaded for a TLS
   * run only). A certificate that does not verify fails as mysql2's does: HANDSHAKE_SSL_ERROR.
   */
  async function startTls(tlsOptions: NonNullable<WireOptions['tls']>): Promise<void> {
    const [{ Duplex }, tls] = await Promise.all([import('node:stream'), import('node:tls')]);
    const raw = socket!;
    const duplex = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, done) {
        raw.write(chunk, () => done());
      },
    });
    route = (chunk) => duplex.push(chunk);
    const secure = tls.connect({
      socket: duplex,
      ca: tlsOptions.ca,
      cert: tlsOptions.cert,
      key: tlsOptions.key,
      rejectUnauthorized: true,
      ...(tlsOptions.verifyIdentity ? { servername: options.host } : { checkServerIdentity: () => undefined }),
    });
    await new Promise<void>((resolve, reject) => {
      handshaking = reject;
      secure.once('secureConnect', resolve);
      secure.once('error', (err) => reject(new WireError(err.message, 'HANDSHAKE_SSL_ERROR', true)));
    }).finally(() => (handshaking = null));
    secure.on('error', (err) => fail(new WireError(err.message, 'PROTOCOL_CONNECTION_LOST', true)));
    secure.on('data', received);
    write = (bytes, written) => secure.write(bytes, () => written?.());
  }
  /** A command: each starts its packets at sequence 0. */
  const command = (payload: Buffer, written?: () => void) => {
    sequence = 0;
    send(payload, written);
  };
  let queue: Promise<unknown> = Promise.resolve();
  /** One exchange at a time: a second query waits for the first's last packet. */
  const inTurn = <T>(exchange: () => Promise<T>): Promise<T> => {
    const result = queue.then(exchange);
    queue = result.catch(() => {});
    return result;
  };

  async function authenticate(): Promise<void> {
    const greeting = parseGreeting(await next());
    // Answered in the server's default method when this client speaks it, else as native:
    // an account of that kind is accepted at once, any other makes the server ask again for
    // its own method (an auth switch; client_ed25519 is only ever asked for that way, with
    // its 32-byte nonce).
    let plugin: Spoken = greeting.plugin === CACHING_SHA2 ? CACHING_SHA2 : NATIVE;
    const capabilities = capabilitiesOf(options, greeting.capabilities);
    if (options.tls) {
      if ((greeting.capabilities & SSL) === 0) throw new WireError('Server does not support secure connection', 'HANDSHAKE_NO_SSL_SUPPORT', true);
      send(handshakeHead(capabilities));
      await startTls(options.tls);
    }
    send(handshakeResponse(options, capabilities, plugin, await scramble(plugin, options.password, greeting.nonce)));
    for (;;) {
      const reply = await next();
      if (reply[0] === 0x00) return;
      if (reply[0] === 0xff) throw serverError(reply);
      if (reply[0] === 0xfe && reply.length > 1) {
        const pluginEnd = reply.indexOf(0, 1);
        const asked = reply.toString('latin1', 1, pluginEnd < 0 ? reply.length : pluginEnd);
        if (!spoken(asked) || pluginEnd < 0) throw new UnsupportedError(`the account authenticates with ${asked}`);
        plugin = asked;
        send(await scramble(plugin, options.password, reply.subarray(pluginEnd + 1, pluginEnd + 1 + nonceLength(plugin))));
        continue;
      }
      // caching_sha2_password's next step: 3, the server had the hash cached (an OK follows);
      // 4, it wants the password itself, which goes in clear only over a Unix socket or TLS
      // (over plain TCP mysql2 encrypts it with the server's RSA key, and the server caches
      // the hash).
      if (reply[0] === 0x01 && plugin === CACHING_SHA2 && reply[1] === 3) continue;
      if (reply[0] === 0x01 && plugin === CACHING_SHA2 && reply[1] === 4 && (options.socketPath || options.tls)) {
        send(Buffer.from(`${options.password}\0`, 'utf8'));
        continue;
      }
      throw new UnsupportedError(`an authentication step this client does not take (${plugin}, 0x${reply.subarray(0, 2).toString('hex')})`);
    }
  }

  let inTransaction = false;
  async function readResult(): Promise<WireRow[]> {
    const first = await next();
    if (first[0] === 0x00) {
      // OK: affected rows and last insert id (length-encoded), then the status flags.
      const [, afterRows] = lengthEncoded(first, 1);
      const [, afterId] = lengthEncoded(first, afterRows);
      inTransaction = afterId + 2 <= first.length && (first.readUInt16LE(afterId) & SERVER_STATUS_IN_TRANS) !== 0;
      return [];
    }
    if (first[0] === 0xff) throw serverError(first);
    const [columns] = lengthEncoded(first, 0);
    for (let i = 0; i < columns; i++) await next(); // the column definitions: the statement says what they are
    if (!isEof(await next())) throw protocolError('no EOF after the columns');
    const rows: WireRow[] = [];
    for (;;) {
      const packet = await next();
      if (isEof(packet)) return rows;
      if (packet[0] === 0xff) throw serverError(packet);
      const row = parseRow(packet);
      if (row.length !== columns) throw protocolError(`a row of ${row.length} columns, not ${columns}`);
      rows.push(row);
    }
  }

  const wire: Wire = {
    inTransaction: () => inTransaction,
    query: (sql) =>
      inTurn(() => {
        if (failure) return Promise.reject(failure);
        command(Buffer.concat([Buffer.from([0x03]), Buffer.from(sql, 'utf8')]));
        // A reply out of protocol leaves the session's packets out of step: it ends here.
        return readResult().catch((err: WireError) => {
          if (err.fatal) fail(err);
          throw err;
        });
      }),
    quit: () =>
      inTurn(
        () =>
          new Promise<void>((resolve) => {
            if (socket!.destroyed) return resolve();
            // Once the kernel has the QUIT, the socket no longer keeps the process alive: it
            // closes when the server closes its side or the process exits, whichever is first,
            // the QUIT ahead of the close (nothing is left unread, so no reset). A CGI run
            // neither waits a round trip for the server's close nor pays for destroying the
            // socket's streams (~2.5 ms of a run, cold).
            command(Buffer.from([0x01]), () => {
              socket!.unref();
              resolve();
            });
          }),
      ),
  };

  const target = options.socketPath ? { path: options.socketPath } : { host: options.host ?? 'localhost', port: options.port ?? 3306 };
  return new Promise<Wire>((resolve, reject) => {
    const timer = setTimeout(() => {
      const where = serverLabel(options);
      const message = !connected ? 'connect ETIMEDOUT' : greeted ? noLogin(where, options.connectTimeout) : noGreeting(where, options.connectTimeout);
      fail(new WireError(message, 'ETIMEDOUT', true));
    }, options.connectTimeout);
    openWireSocket(target, events, options.transport)
      .then((opened) => {
        socket = opened;
        if (failure) opened.destroy(); // timed out while node:net loaded
        return authenticate();
      })
      .then(
        () => {
          clearTimeout(timer);
          resolve(wire);
        },
        (err: Error) => {
          clearTimeout(timer);
          socket?.destroy();
          reject(err);
        },
      );
  });
}
