// A host name found in the hosts file only where the system's resolver would look there
// first, with what glibc would give: every address listed for the name or an alias, in
// the file's order, any case; comments ignored; anything else left to the resolver.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostsFileAddresses } from '../../lib/store/hosts-file.js';

const dir = mkdtempSync(join(tmpdir(), 'adrater-hosts-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
/** Files with this content (null: no such file). */
function files(nsswitch: string | null, hosts: string | null) {
  const made = { nsswitch: join(dir, `nsswitch-${++n}`), hosts: join(dir, `hosts-${n}`) };
  if (nsswitch !== null) writeFileSync(made.nsswitch, nsswitch);
  if (hosts !== null) writeFileSync(made.hosts, hosts);
  return made;
}

const DEBIAN = '# /etc/nsswitch.conf\npasswd:         files\nhosts:          files mdns4_minimal [NOTFOUND=return] dns myhostname\nnetworks:       files\n';
const HOSTS = [
  '127.0.0.1\tlocalhost',
  '::1     localhost ip6-localhost ip6-loopback',
  '# 10.0.0.9 db',
  '10.0.0.5 db.internal   DB   # the primary',
  '10.0.0.6 db2',
  '10.0.0.5 db',
  'fe80::1%eth0 linklocal',
  '',
].join('\n');

t.test('files first: the addresses listed for the name or an alias, in order, once each', async (t) => {
  const f = files(DEBIAN, HOSTS);
  t.same(hostsFileAddresses('localhost', f), ['127.0.0.1', '::1']);
  t.same(hostsFileAddresses('ip6-loopback', f), ['::1']);
  t.same(hostsFileAddresses('Db', f), ['10.0.0.5'], 'any case; a repeated address once; not db2, not the comment');
  t.same(hostsFileAddresses('db.internal', f), ['10.0.0.5']);
  t.equal(hostsFileAddresses('db2.internal', f), null, 'not listed: the resolver');
  t.equal(hostsFileAddresses('10.0.0.5', f), null, 'an address is no name');
  t.equal(hostsFileAddresses('linklocal', f), null, 'a zoned address: the resolver');
  t.same(hostsFileAddresses('localhost', files('hosts:files\n', HOSTS)), ['127.0.0.1', '::1'], 'no space after the colon');
  t.same(hostsFileAddresses('localhost', files('  hosts: [!UNAVAIL=return] files dns # why\n', HOSTS)), ['127.0.0.1', '::1'], 'an action item before the first source');
});

t.test('anything but files first, or a file missing: null, and the resolver decides', async (t) => {
  t.equal(hostsFileAddresses('localhost', files('hosts: dns files\n', HOSTS)), null, 'DNS first');
  t.equal(hostsFileAddresses('localhost', files('hosts: resolve [!UNAVAIL=return] files\n', HOSTS)), null, 'systemd-resolved first');
  t.equal(hostsFileAddresses('localhost', files('# hosts: files\npasswd: files\n', HOSTS)), null, 'no hosts line: glibc asks DNS first');
  t.equal(hostsFileAddresses('localhost', files('hosts:\n', HOSTS)), null, 'an empty hosts line');
  t.equal(hostsFileAddresses('localhost', files(null, HOSTS)), null, 'no nsswitch.conf');
  t.equal(hostsFileAddresses('localhost', files(DEBIAN, null)), null, 'no hosts file');
});
