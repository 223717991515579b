import t from 'tap';
import { siteKey, siteKeyByUrl } from '../../lib/core/site.js';
import { seeded } from '../helpers/random.js';

const cases: Array<[string, string | { reason: string }]> = [
  ['example.com', 'example.com'],
  ['http://www.shop.example.co.uk/x', 'example.co.uk'],
  ['https://WWW.Example.COM/Path?q=1', 'example.com'],
  ['example.com.', 'example.com'],
  ['http://example.com./', 'example.com'],
  ['example.com:8080/x', 'example.com'],
  ['http://user:secret@www.example.org:8443/a', 'example.org'],
  ['//cdn.example.net/lib.js', 'example.net'],
  ['bücher.de', 'xn--bcher-kva.de'],
  ['http://BÜCHER.de/', 'xn--bcher-kva.de'],
  ['http://ｅｘａｍｐｌｅ．ｃｏｍ/', 'example.com'],
  ['http://foo.blogspot.com/', 'foo.blogspot.com'],
  ['http://a.b.foo.blogspot.com/', 'foo.blogspot.com'],
  ['http://0x7f.1/', '127.0.0.1'],
  ['http://127.0.0.1:8080/', '127.0.0.1'],
  ['http://2130706433/', '127.0.0.1'],
  ['http://127.0.0.1./', '127.0.0.1'],
  ['http://[2001:DB8:0:0:0:0:0:1]/', '[2001:db8::1]'],
  ['[::FFFF:127.0.0.1]', '[::ffff:7f00:1]'],
  ['  example.com  ', 'example.com'],
  ['http://%65xample.com/', 'example.com'],
  ['https://sub_domain.example.com/', 'example.com'],
  ['ftp://x.example/', { reason: 'scheme not rated' }],
  ['mailto:someone@example.com', { reason: 'scheme not rated' }],
  ['javascript:alert(1)', { reason: 'scheme not rated' }],
  ['localhost', { reason: 'no registrable domain' }],
  ['http://localhost:8080/', { reason: 'no registrable domain' }],
  ['co.uk', { reason: 'no registrable domain' }],
  ['blogspot.com', { reason: 'no registrable domain' }],
  ['com', { reason: 'no registrable domain' }],
  ['', { reason: 'empty url' }],
  ['   ', { reason: 'empty url' }],
  ['http://', { reason: 'not a valid url' }],
  ['http://exa mple.com/', { reason: 'not a valid url' }],
  ['http://example.com:99999/', { reason: 'not a valid url' }],
  ['http://999.1.1.1/', { reason: 'not a valid url' }],
  ['http://a..b.example.com/', { reason: 'not a valid host name' }],
  ['http://-bad.example.com/', { reason: 'not a valid host name' }],
  ['http://' + 'a'.repeat(64) + '.com/', { reason: 'not a valid host name' }],
  ['http://' + 'abcdefghi.'.repeat(26) + 'com/', { reason: 'not a valid host name' }],
  ['\u0000\u0001\uFFFD', { reason: 'not a valid url' }],
];

for (const [input, expected] of cases) {
  t.same(siteKey(input), typeof expected === 'string' ? { domain: expected } : expected, JSON.stringify(input));
}

t.test('junk never throws and always yields a domain or a reason', async (t) => {
  const random = seeded(7);
  for (let i = 0; i < 5000; i++) {
    const s = (random.next() < 0.5 ? 'http://' : '') + random.text('aZ09.-_:/?#[]@!$&\'()*+,;=%\u0000\u007f\u00e9\u200b\ud800\uffff😀 \t\n', 40);
    const key = siteKey(s);
    if (!('domain' in key) && !('reason' in key)) t.fail(`no key for ${JSON.stringify(s)}`);
    if ('domain' in key && !/^(\[[0-9a-f:.]+\]|[a-z0-9_.-]+)$/.test(key.domain)) t.fail(`odd domain ${key.domain}`);
  }
  t.pass('5000 random inputs');
});

// siteKey() reads a plain host in one pass and leaves everything else to WHATWG URL
// (siteKeyByUrl): on any value the two must agree.
t.test('the one-pass host reader answers as WHATWG URL does', async (t) => {
  const edges = [
    'http://Example.COM', 'HTTPS://www.example.com:443/x', 'http://example.com:/', 'http://example.com:0/', 'example.com:65535',
    'example.com:65536', 'example.com:000080/x', 'example.com:123456', 'http://example.com.:80?q', 'http://example.com..',
    'example.123', 'example.0x1F', 'example.0x', 'example.0xg', 'a.1b', '1.2.3', '1.2.3.4.', '0x7f.1', 'xn--bcher-kva.de',
    'xn--zz.example', 'ab--cd.example', '-a.example', 'a-.example', 'http:example.com', 'http:/example.com', 'http:///example.com',
    'https:/x.example', 'http://a@b.example', 'http://b.example\\c', 'http://b.example#x', 'http://b.example?x', 'b.example/p:q',
    'localhost:', 'localhost:x', 'a'.repeat(63) + '.com', 'a'.repeat(64) + '.com', 'abcdefghi.'.repeat(25) + 'com', 'abcdefghi.'.repeat(25) + 'co',
    '.', '..', '.example.com', 'http://.example.com', 'http://example..com',
  ];
  for (const text of edges) t.same(siteKey(text), siteKeyByUrl(text), JSON.stringify(text));
  const random = seeded(13);
  const prefixes = ['', '', 'http://', 'https://', 'HTTP://', 'hTTpS://', '//', 'http:', 'ftp://', 'xn--', 'www.'];
  const alphabet = 'abcxnzABXZ0189-----.....:/?#@%_\\[] \té';
  const tails = ['', '.com', '.co.uk', '.example', '.blogspot.com', '.0x1', '.12', ':8080', ':99999', '/', '/x?y#z', '.'];
  let differing = 0;
  for (let i = 0; i < 50_000; i++) {
    // Half junk, half host-shaped (labels that may be empty, numeric, hex or hyphen-edged), so that both ways are taken often.
    const host = Array.from({ length: 1 + random.int(4) }, () => random.text('abxnAZ0159-', 7)).join('.');
    const text = (random.pick(prefixes) + (i % 2 ? random.text(alphabet, 24) : host) + random.pick(tails)).trim();
    if (text === '') continue;
    if (JSON.stringify(siteKey(text)) !== JSON.stringify(siteKeyByUrl(text))) {
      if (differing++ < 5) t.fail(`differs for ${JSON.stringify(text)}: ${JSON.stringify(siteKey(text))} against ${JSON.stringify(siteKeyByUrl(text))}`);
    }
  }
  t.equal(differing, 0, '50,000 generated values');
});
