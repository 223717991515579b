// MariaDB's ed25519 accounts (`IDENTIFIED VIA ed25519`, the auth_ed25519 plugin: the server
// keeps a public key, not a hash a stolen table can be replayed with). mysql2 does not speak
// its client side, client_ed25519, and answered such an account "unknown plugin". The
// client signs the server's 32-byte nonce as Ed25519 does, but with the password in the
// place of the 32-byte seed (MariaDB's crypto_sign): the secret scalar and the nonce's key
// come from SHA-512 of the password, of any length, so Node's Ed25519 keys (seeds) cannot
// do it; the curve's arithmetic comes from @noble/ed25519 (audited, no dependencies).
// Both clients sign here: mysql2 through ed25519AuthPlugin, a CGI run's own client
// (mysql-wire.ts) through ed25519Signature, loaded there for such an account only.
// (node:crypto as a whole: the MySQL bundle loads it on first use, lib/store/lazy-module.ts,
// and its stand-in has none of its names until then.)
import crypto from 'node:crypto';
import { Point } from '@noble/ed25519';

/** The order of the curve's base point. */
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
// [n]B as [n/2 mod L](2B): noble multiplies its base point through a table it builds on first
// use (~40-70 ms here), which a process that signs once (a CGI run) or once per pooled
// connection never repays; any other point goes through its constant-time ladder (~2 ms warm).
const HALF = (L + 1n) / 2n;
const TWO_B = Point.BASE.double();
const timesBase = (n: bigint) => TWO_B.multiply((n * HALF) % L).toBytes();

const sha512 = (...parts: Uint8Array[]) => parts.reduce((h, part) => h.update(part), crypto.createHash('sha512')).digest();
const littleEndian = (bytes: Uint8Array) => BigInt(`0x${Buffer.from(bytes).reverse().toString('hex')}`);
const littleEndian32 = (n: bigint) => Buffer.from(n.toString(16).padStart(64, '0'), 'hex').reverse();

/** The signature (R, S) of `nonce` that client_ed25519 sends for `password`. */
export function ed25519Signature(password: string, nonce: Uint8Array): Buffer {
  const az = sha512(Buffer.from(password, 'utf8'));
  az[0] &= 248;
  az[31] &= 63;
  az[31] |= 64;
  const a = littleEndian(az.subarray(0, 32)) % L;
  const r = littleEndian(sha512(az.subarray(32), nonce)) % L;
  const R = timesBase(r);
  const A = timesBase(a);
  const k = littleEndian(sha512(R, A, nonce)) % L;
  return Buffer.concat([R, littleEndian32((r + k * a) % L)]);
}

/** mysql2's authPlugins entry for client_ed25519: the server's auth switch carries the nonce. */
export const ed25519AuthPlugin =
  ({ connection }: { connection: { config: { password?: string } } }) =>
  (nonce: Buffer): Buffer =>
    ed25519Signature(connection.config.password ?? '', nonce.subarray(0, 32));
