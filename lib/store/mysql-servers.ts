// The servers a MySQL URL names (CONTRACT §8): mysql://user:pass@host1:3306,host2:3306/db,
// in the order to try them. WHATWG URL refuses a host list, so the authority is split here;
// each server's options are then those of a one-server URL.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ConnectionOptions, SslOptions } from 'mysql2/promise';
import { SettingsError } from '../core/errors.js';
import { IPV4 } from './hosts-file.js';
import { serverLabel } from './mysql-greeting.js';

export interface MysqlServer {
  /** "host:port" (or the socket path), for log lines; never the password. */
  label: string;
  options: ConnectionOptions;
}

const URL_PARTS = /^(?:mysql|mariadb):\/\/(?:([^@/?#]*)@)?([^/?#]*)(\/[^?#]*)?(\?[^#]*)?$/;
const HOST_PORT = /^(?:\[([^\]]+)\]|([^:[\]]*))(?::(\d{1,5}))?$/;
// Where the URL's credentials start: after its scheme.
const AFTER_SCHEME = /^(?:mysql|mariadb):\/\//;

/** What a MySQL URL says: its servers, and the options a persistent process reads (mysql-target.ts). */
export interface MysqlUrl {
  servers: MysqlServer[];
  /**
   * How often a persistent process asks the listed servers whether the one in use is still
   * fit and an earlier one is back: `?failback=SECONDS`, default 30 (MySQL Connector/J's
   * interval); 0 never asks: it stays on the server in use until it is lost.
   */
  failbackMs: number;
  /**
   * `?maxLag=SECONDS` on a read URL (--db-read): a replica further behind its primary than
   * this (Seconds_Behind_Master) is not used for look-ups; default none (a replica whose
   * replication is not running is never used, whatever this says).
   */
  maxLagSeconds: number | null;
}

export const mysqlServers = (url: string): MysqlServer[] => mysqlUrl(url).servers;

/**
 * A user or password holding "@", "/", "?" or "#" as it is splits the URL at the wrong
 * place, and the error then quoted a piece of the password as a server, an option or a host
 * name to look up, in a log line for every request. Said without quoting anything: more than
 * one "@", or one after the first "/", "?" or "#", is such a URL.
 */
function refuseUnencodedCredentials(url: string): void {
  const scheme = AFTER_SCHEME.exec(url);
  if (!scheme) return;
  const rest = url.slice(scheme[0].length);
  const at = rest.lastIndexOf('@');
  if (at < 0) return;
  if (rest.indexOf('@') !== at || /[/?#]/.test(rest.slice(0, at))) {
    throw new SettingsError('database URL: the user or password holds "@", "/", "?" or "#"; percent-encode them there (%40, %2F, %3F, %23)');
  }
}

export function mysqlUrl(url: string): MysqlUrl {
  refuseUnencodedCredentials(url);
  const parts = URL_PARTS.exec(url);
  if (!parts) throw new SettingsError('database must be mysql://user:pass@host:port[,host:port…]/db');
  const [, userinfo = '', hosts, path = '', query = ''] = parts;
  const colon = userinfo.indexOf(':');
  // Most URLs have no query: URLSearchParams's first use costs a CGI run ~0.1 ms.
  const params = query ? urlOptions(query) : null;
  // Read only by a persistent process, but wrong in a CGI run's settings too: said there as well.
  const failback = params && seconds(params, 'failback', '0 to stay');
  const maxLagSeconds = params && seconds(params, 'maxLag', '0 or more');
  const common: ConnectionOptions = {
    user: decodeURIComponent(colon < 0 ? userinfo : userinfo.slice(0, colon)) || 'root',
    password: colon < 0 ? '' : decodeURIComponent(userinfo.slice(colon + 1)),
    database: decodeURIComponent(path.replace(/^\//, '')) || undefined,
    charset: 'utf8mb4',
    dateStrings: true,
    supportBigNumbers: true,
    trace: false, // no stack captured for every query (a responder makes thousands a second)
    // A pool's connection prepares one look-up (a dozen, one per power of two, on a server
    // without JSON_TABLE: lib/store/mysql.ts) and a queue write per row count up to 32:
    // under 64, so none is evicted;
    // mysql2's default cache of 16,000 statements costs each new connection four 16,000-slot
    // arrays, ~1.5 ms of a CGI run.
    maxPreparedStatements: 64,
    connectTimeout: milliseconds(params?.get('connectTimeout') ?? '3000'),
  };
  const socket = params?.get('socket');
  const tls = params && tlsOptions(params);
  if (tls && socket) throw new SettingsError('database URL: ssl, sslCa and sslCert are for TCP; a Unix socket (?socket=) is local');
  const servers = socket
    ? [{ label: socket, options: { ...common, socketPath: socket } }]
    : (hosts || 'localhost').split(',').map((hostPort) => {
        const m = HOST_PORT.exec(hostPort.trim());
        if (!m || Number(m[3] ?? 3306) > 65535) throw new SettingsError(`database server "${hostPort.trim().slice(0, 80)}" is not host:port`);
        const host = m[1] ?? (m[2] || 'localhost');
        const port = Number(m[3] ?? 3306);
        // mysql2 checks the certificate's name against a host name only (for an address
        // Node would check "localhost"): a server named by its address is vouched for by the CA.
        const ssl = tls && { ...tls, verifyIdentity: !m[1] && !IPV4.test(host) };
        return { label: serverLabel({ host, port }), options: ssl ? { ...common, host, port, ssl } : { ...common, host, port } };
      });
  return { servers, failbackMs: Math.round((failback ?? 30) * 1000), maxLagSeconds: maxLagSeconds ?? null };
}

// The options a database URL may carry. Any other is refused rather than ignored: a typo
// (`?conectTimeout=`) or a driver option this project does not pass on (`?ssl=`) would
// otherwise look as if it were in force.
const URL_OPTIONS = ['socket', 'connectTimeout', 'failback', 'maxLag', 'ssl', 'sslCa', 'sslCert', 'sslKey'];

/**
 * TLS to the servers, when the URL asks for it: `?ssl=true` (certificates a CA that Node
 * trusts signed) or `?sslCa=PATH` (the PEM file of the CA that signed the servers'
 * certificates, or of a server's own self-signed one). The certificate is always verified;
 * a server without TLS, or whose certificate does not verify, is not used. `?sslCert=PATH`
 * and `?sslKey=PATH`, together: a client certificate and its unencrypted private key, for
 * an account `REQUIRE X509` (or SUBJECT, ISSUER); they ask for TLS as `ssl=true` does.
 * Null: plain TCP.
 */
function tlsOptions(params: URLSearchParams): SslOptions | null {
  const ssl = params.get('ssl');
  const caPath = params.get('sslCa');
  const certPath = params.get('sslCert');
  const keyPath = params.get('sslKey');
  if (ssl !== null && ssl !== 'true') throw new SettingsError(`database URL: ssl must be "true", not "${ssl.slice(0, 40)}" (sslCa=PATH names a CA of your own)`);
  if ((certPath === null) !== (keyPath === null)) throw new SettingsError('database URL: sslCert and sslKey go together (a client certificate and its private key)');
  if (ssl === null && caPath === null && certPath === null) return null;
  const options: SslOptions = { rejectUnauthorized: true };
  if (caPath !== null) options.ca = pemFile('sslCa', caPath, CERTIFICATE_PEM, 'certificate');
  if (certPath !== null && keyPath !== null) {
    options.cert = pemFile('sslCert', certPath, CERTIFICATE_PEM, 'certificate');
    options.key = pemFile('sslKey', keyPath, KEY_PEM, 'private key');
    refuseUnusableKey(options.cert, certPath, options.key, keyPath);
  }
  return options;
}

const CERTIFICATE_PEM = /-----BEGIN CERTIFICATE-----/;
const KEY_PEM = /-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----/;
const quoted = (path: string) => `"${path.slice(0, 200)}"`;
const errorCode = (err: unknown) => (err as { code?: string }).code ?? 'error';

/** The text of a PEM file a URL option names, which must hold a block `pem` matches. */
function pemFile(option: string, path: string, pem: RegExp, what: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new SettingsError(`database URL: ${option} ${quoted(path)} cannot be read (${errorCode(err)})`);
  }
  if (!pem.test(text)) throw new SettingsError(`database URL: ${option} ${quoted(path)} holds no PEM ${what}`);
  return text;
}

/**
 * A client certificate or key that cannot be used, a key that is encrypted (there is no
 * option for a passphrase: the file's mode protects the key) or is not the certificate's
 * would fail every connection: said here, once, as a bad setting. node:crypto is loaded for
 * a URL with a client certificate only.
 */
function refuseUnusableKey(cert: string, certPath: string, key: string, keyPath: string): void {
  const { createPrivateKey, X509Certificate } = createRequire(import.meta.filename)('node:crypto') as typeof import('node:crypto');
  let certificate: InstanceType<typeof X509Certificate>;
  try {
    certificate = new X509Certificate(cert);
  } catch (err) {
    throw new SettingsError(`database URL: sslCert ${quoted(certPath)} cannot be used (${errorCode(err)})`);
  }
  // PKCS#8 and the older PEM form (Proc-Type); OpenSSL's own error for either depends on its version.
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|^Proc-Type: 4,ENCRYPTED/m.test(key)) {
    throw new SettingsError(`database URL: sslKey ${quoted(keyPath)} is encrypted; give it unencrypted, readable only by the user adrater runs as`);
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new SettingsError(`database URL: sslKey ${quoted(keyPath)} cannot be used (${errorCode(err)})`);
  }
  if (!certificate.checkPrivateKey(privateKey)) throw new SettingsError(`database URL: sslKey ${quoted(keyPath)} is not the private key of sslCert's certificate`);
}

function urlOptions(query: string): URLSearchParams {
  const params = new URLSearchParams(query);
  for (const name of params.keys()) {
    if (!URL_OPTIONS.includes(name)) throw new SettingsError(`database URL: unknown option "${name.slice(0, 40)}" (known: ${URL_OPTIONS.join(', ')})`);
  }
  return params;
}

/** `?connectTimeout=`: whole milliseconds, at least 1 (not a NaN that times every connect out at once). */
function milliseconds(given: string): number {
  const ms = Number(given);
  if (!/^\d+$/.test(given) || ms < 1 || ms > 2_147_483_647) throw new SettingsError(`database URL: connectTimeout must be milliseconds (1 or more), not "${given.slice(0, 40)}"`);
  return ms;
}

/** The option `name` in seconds, or null when it is not given; anything but a number from 0 up is a settings error. */
function seconds(params: URLSearchParams, name: string, allowed: string): number | null {
  const given = params.get(name);
  if (given === null) return null;
  const value = Number(given);
  if (given.trim() === '' || !Number.isFinite(value) || value < 0) throw new SettingsError(`database URL: ${name} must be seconds (${allowed}), not "${given.slice(0, 40)}"`);
  return value;
}
