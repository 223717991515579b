// client_ed25519's signature (lib/store/mysql-ed25519.ts), made through X25519 and a
// y-recovery rather than Edwards arithmetic of its own: its public keys checked against the
// ones MariaDB keeps, and its signatures against Node's own Ed25519 verification. (A real
// login with one: test/integration/accounts.ts and cgi-mysql-client.ts.)
import t from 'tap';
import crypto from 'node:crypto';
import { ed25519PublicKey, ed25519Signature } from '../../lib/store/mysql-ed25519.js';
import { seeded } from '../helpers/random.js';

// What MariaDB 10.11 keeps for these passwords (`CREATE USER … IDENTIFIED VIA ed25519 USING
// PASSWORD('…')`, then mysql.global_priv's authentication_string): its own key derivation.
const MARIADB_KEYS: Array<[string, string]> = [
  ['pw', 'vRq+ROSzhW4MwhdoPvlkL1fHkT0w6ZDDbTpVQwSNQ90'],
  ['s3cret-pw', '8CZOdpNBxdWUur0op3sWKYOSVoV3/sCp07LC7Usboag'],
  ['pässword', 'ZQoQAqt1H9tk0+jGn/w3eRUoG/a5MjWGiCds7fSbW2I'],
  ['☕ coffee', '3hJIrRTgOg238Rk7oNVefEgVm8uaEDoC5C0+e6aca4s'],
  ['x'.repeat(100), 'UdhomqEdOtHyENpx97aeneL7yr8EYvVvlNWoAEJEyZg'],
];

// An Ed25519 public key as Node takes it: SubjectPublicKeyInfo DER, this prefix and the 32 bytes.
const ED25519_SPKI = Buffer.from('302a300506032b6570032100', 'hex');
const verifies = (key: Buffer, message: Buffer, signature: Buffer) =>
  crypto.verify(null, message, crypto.createPublicKey({ key: Buffer.concat([ED25519_SPKI, key]), format: 'der', type: 'spki' }), signature);

t.test('the public key of a password is the one MariaDB keeps', async (t) => {
  for (const [password, kept] of MARIADB_KEYS) t.equal(ed25519PublicKey(password).toString('base64').replace(/=+$/, ''), kept, password.slice(0, 20));
});

t.test('signatures verify under the account\'s key, and only for their own nonce', async (t) => {
  const random = seeded(25519);
  let verified = 0;
  let refused = 0;
  for (let i = 0; i < 300; i++) {
    const password = Buffer.from(Array.from({ length: i % 70 }, () => random.int(256))).toString('latin1');
    const nonce = Buffer.from(Array.from({ length: 32 }, () => random.int(256)));
    const signature = ed25519Signature(password, nonce);
    const key = ed25519PublicKey(password);
    if (verifies(key, nonce, signature)) verified++;
    const other = Buffer.from(nonce);
    other[i % 32] ^= 1;
    if (!verifies(key, other, signature)) refused++;
  }
  t.equal(verified, 300, 'each verifies');
  t.equal(refused, 300, 'none verifies for a nonce one bit away');
  for (const [password, kept] of MARIADB_KEYS) {
    const nonce = crypto.randomBytes(32);
    t.ok(verifies(Buffer.from(kept, 'base64'), nonce, ed25519Signature(password, nonce)), `under MariaDB's key for ${password.slice(0, 20)}`);
  }
});

t.test('a signature depends on the nonce and the password alone', async (t) => {
  const nonce = crypto.randomBytes(32);
  t.same(ed25519Signature('pw', nonce), ed25519Signature('pw', nonce), 'the same twice');
  t.not(ed25519Signature('pw', nonce).toString('hex'), ed25519Signature('pw', crypto.randomBytes(32)).toString('hex'), 'another nonce, another signature');
  t.equal(ed25519Signature('pw', nonce).length, 64);
});
