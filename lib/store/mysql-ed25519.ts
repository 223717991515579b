// MariaDB's ed25519 accounts (`IDENTIFIED VIA ed25519`, the auth_ed25519 plugin: the server
// keeps a public key, not a hash a stolen table can be replayed with). mysql2 does not speak
// its client side, client_ed25519, and answered such an account "unknown plugin". The
// client signs the server's 32-byte nonce as Ed25519 does, but with the password in the
// place of the 32-byte seed (MariaDB's crypto_sign): the secret scalar and the nonce's key
// come from SHA-512 of the password, of any length, so Node's Ed25519 keys (seeds) cannot
// do it. The two multiplications of the base point are X25519's (OpenSSL's, constant time,
// through node:crypto), which gives only the Montgomery u of kB: the Edwards point's sign
// comes from u((k+8)B) too, by Okeya and Sakurai's y-recovery with 8B known. A CGI run's
// connect phase on such an account, 9.9 ms with @noble/ed25519's BigInt ladders, is 7.0 ms so
// (native 3.6; README "Accounts").
// Both clients sign here: mysql2 through ed25519AuthPlugin, a CGI run's own client
// (mysql-wire.ts) through ed25519Signature, loaded there for such an account only.
// (node:crypto as a whole: the MySQL bundle loads it on first use, lib/store/lazy-module.ts,
// and its stand-in has none of its names until then.)
import crypto from 'node:crypto';

/** The field's prime, and the order of the base point B. */
const P = 2n ** 255n - 19n;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
// Curve25519 is v² = u³ + Au² + u; (U8, V8) is 8B on it; x = √−(A+2)·u/v maps it to Edwards
// (of the two roots, the one V8 was computed with). A wrong digit makes every signature fail
// Node's own Ed25519 verification in test/unit/mysql-ed25519.ts.
const MONTGOMERY_A = 486662n;
const U8 = 0x275fa6d7aad65c2dd83b884dc8b65ca17a78edcaad74a91ef1716fed48c99968n;
const V8 = 0x6085bbba8fb939e48dcf44694066b08c4f479c6770c591f9c5296d6e9f728718n;
const SQRT_MINUS_A2 = 0xf26edf460a006bbd27b08dc03fc4f7ec5a1d3d14b7d1a82cc6e04aaff457e06n;
// An X25519 private key as PKCS #8 DER: this prefix and the 32 bytes of the scalar.
const X25519_PKCS8 = Buffer.from('302e020100300506032b656e04220420', 'hex');

const mod = (n: bigint) => ((n % P) + P) % P;
/** 1/n mod P, as n^(P-2) (Fermat). */
function inverse(n: bigint): bigint {
  let result = 1n;
  for (let b = mod(n), e = P - 2n; e > 0n; e >>= 1n, b = (b * b) % P) if (e & 1n) result = (result * b) % P;
  return result;
}
const sha512 = (...parts: Uint8Array[]) => parts.reduce((h, part) => h.update(part), crypto.createHash('sha512')).digest();
const littleEndian = (bytes: Uint8Array) => BigInt(`0x${Buffer.from(bytes).reverse().toString('hex')}`);
const littleEndian32 = (n: bigint) => Buffer.from(n.toString(16).padStart(64, '0'), 'hex').reverse();

/** A scalar as X25519 takes it (and as Ed25519 makes its secret one): bits 0-2 and 255 clear, 254 set. */
function clamped(bytes: Uint8Array): bigint {
  const k = Buffer.from(bytes.subarray(0, 32));
  k[0] &= 248;
  k[31] &= 63;
  k[31] |= 64;
  return littleEndian(k);
}

/** u of kB, for a clamped k: X25519's public key for the private key k. */
function montgomeryU(k: bigint): bigint {
  const privateKey = crypto.createPrivateKey({ key: Buffer.concat([X25519_PKCS8, littleEndian32(k)]), format: 'der', type: 'pkcs8' });
  return littleEndian(crypto.createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(-32));
}

/** kB, encoded as Ed25519 encodes a point (y, and x's low bit in the top bit), for a clamped k. */
function timesBase(k: bigint): Buffer {
  const u = montgomeryU(k);
  const uNext = montgomeryU(k + 8n); // clamped too, unless k's bits 3-253 are all set (one k in 2^251)
  // kB = (X:Y:Z) from u(kB), u(kB + 8B) and 8B (Costello and Smith, "Montgomery curves and
  // their arithmetic", algorithm 5, with both u's affine).
  const t = 2n * MONTGOMERY_A;
  const Y = mod(mod((U8 + u + t) * (U8 * u + 1n)) - t - mod((u - U8) ** 2n) * uNext);
  const X = mod(2n * V8 * u);
  const Z = 2n * V8;
  // To Edwards: x = √−(A+2)·X/Y, y = (X−Z)/(X+Z), with one inversion for both.
  const both = inverse(Y * (X + Z));
  const x = mod(SQRT_MINUS_A2 * X * (X + Z) * both);
  const encoded = littleEndian32(mod((X - Z) * Y * both));
  if (x & 1n) encoded[31] |= 0x80;
  return encoded;
}

/** The account's secret scalar a, and the half of its hash that keys each signature's r. */
function secretOf(password: string): { a: bigint; prefix: Buffer } {
  const az = sha512(Buffer.from(password, 'utf8'));
  return { a: clamped(az), prefix: az.subarray(32) };
}

/** The public key aB that the server keeps for `password` (mysql.user's authentication_string, in base64). */
export const ed25519PublicKey = (password: string): Buffer => timesBase(secretOf(password).a);

/** The signature (R, S) of `nonce` that client_ed25519 sends for `password`. */
export function ed25519Signature(password: string, nonce: Uint8Array): Buffer {
  const { a, prefix } = secretOf(password);
  // The nonce's scalar r from SHA-512 of the key's second half and the message, as Ed25519's,
  // but clamped (X25519 takes no other) rather than reduced: 251 bits of it, and a server
  // checks only that S·B = R + H(R, A, nonce)·A, whatever r is.
  const r = clamped(sha512(prefix, nonce));
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
