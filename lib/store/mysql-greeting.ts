// What a server's first bytes say before any MySQL client parses them, for both clients (a
// CGI run's own, lib/store/mysql-wire.ts, and mysql2's sockets, lib/store/mysql-target.ts):
// a database URL naming the port of another server (PostgreSQL's, Redis's, NATS's, an SSH
// daemon's) waited out connectTimeout and said `connect ETIMEDOUT`, as if the host were
// unreachable. A server that speaks first with anything else is told apart at its first
// bytes; one that waits for its client to speak (as PostgreSQL and Redis do) still takes
// connectTimeout, and then says so. No driver is loaded here.

/** adrater's code for a server that is not a MySQL server: read as a server lost (503; the next listed one is tried). */
export const NOT_MYSQL = 'ADRATER_NOT_MYSQL';

// A greeting (HandshakeV10) is ~100 bytes, an ERR packet sent instead (too many
// connections, a host blocked) a few hundred: a first packet longer than this is no greeting.
const MAX_GREETING = 4096;

/**
 * The message for `where` when `start`, the first bytes it sent, cannot begin a MySQL
 * greeting (a packet of sequence 0 whose payload starts with protocol version 10, or an ERR
 * packet), or null when it can (or is too short to tell).
 */
export function notAGreeting(where: string, start: Buffer): string | null {
  if (start.length < 5) return null;
  if (start[3] === 0 && start.readUIntLE(0, 3) <= MAX_GREETING && (start[4] === 10 || start[4] === 0xff)) return null;
  const shown = start.toString('latin1', 0, 40).replace(/[^\x20-\x7e]|["\\]/g, (c) => (c === '"' || c === '\\' ? `\\${c}` : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
  return `${where} is not a MySQL server: it spoke first with "${shown}${start.length > 40 ? '…' : ''}", not a MySQL greeting`;
}

/** The message for a server that took the connection and sent nothing within `ms`. */
export const noGreeting = (where: string, ms: number) =>
  `connected to ${where}, but no MySQL greeting came within ${ms} ms (a MySQL server that has stalled, or a server of another protocol)`;

/**
 * The message for a server that greeted and then did not finish the login within `ms` (an
 * authentication that hangs, such as PAM waiting on its directory, or a proxy that greets for
 * servers it cannot reach): before, `connect ETIMEDOUT`, as if the host were unreachable.
 */
export const noLogin = (where: string, ms: number) =>
  `connected to ${where}, which sent its MySQL greeting, but the login did not finish within ${ms} ms (an authentication that hangs, or a proxy waiting for its servers)`;

/**
 * Whether the server's packets in `chunk`, after the greeting, end the login (an OK or an
 * ERR packet; an auth switch or more auth data does not), given `pending`: what was left of
 * the previous chunk. Returns the bytes still pending, or true once the login has ended.
 */
export function loginEnds(pending: Buffer, chunk: Buffer): Buffer | true {
  let data = pending.length ? Buffer.concat([pending, chunk]) : chunk;
  while (data.length >= 5) {
    const end = 4 + data.readUIntLE(0, 3);
    if (end > 4 && (data[4] === 0x00 || data[4] === 0xff)) return true;
    if (data.length < end) break;
    data = data.subarray(end);
  }
  return data;
}

/** `host:port` (an IPv6 address in brackets), or the socket's path: what a message names. */
export const serverLabel = (o: { host?: string; port?: number; socketPath?: string }) =>
  o.socketPath ?? `${o.host?.includes(':') ? `[${o.host}]` : (o.host ?? 'localhost')}:${o.port ?? 3306}`;
