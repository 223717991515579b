// The stand-ins the MySQL bundle uses for what mysql2 loads but rarely needs: a module that
// loads on first use (a class included), and iconv-lite's UTF-8 path without its code pages,
// checked against the real iconv-lite.
import t from 'tap';
import { createRequire } from 'node:module';
import { lazyModule } from '../../lib/store/lazy-module.js';
import { getDecoder, getEncoder } from '../../lib/store/utf8-iconv.js';

const realIconv = createRequire(import.meta.url)('iconv-lite') as { decode(b: Buffer, e: string): string; encode(s: string, e: string): Buffer };

t.test('lazyModule: nothing loads until used; properties, `in`, calls and `new` reach the real module', async (t) => {
  let loads = 0;
  class Long {
    constructor(public low: number, public high: number) {}
    static ZERO = 0;
  }
  const lazy = lazyModule(() => (loads++, Long));
  t.equal(loads, 0, 'not loaded when created');
  t.equal(lazy.ZERO, 0);
  t.equal(loads, 1, 'loaded at first use');
  const value = new lazy(1, 2);
  t.ok(value instanceof Long, 'new works on a class module');
  t.same([value.low, value.high], [1, 2]);
  t.ok('ZERO' in lazy);
  const fnModule = lazyModule(() => Object.assign((x: number) => x * 2, { name2: 'f' }));
  t.equal(fnModule(21), 42, 'a function module can be called');
  t.equal(loads, 1, 'loaded once');
});

t.test('utf8-iconv: CESU-8 and UTF-8 as the real iconv-lite decodes them (all of the BMP)', async (t) => {
  const samples = ['10.11.19-MariaDB-0+deb12u1', 'bücher.de', 'ǅ€ﬃ', '日本語のテキスト', ''];
  for (const text of samples) {
    for (const encoding of ['cesu8', 'utf8', 'UTF-8']) {
      const bytes = realIconv.encode(text, encoding);
      const decoder = getDecoder(encoding);
      t.equal(String(decoder.write(bytes)) + String(decoder.end() ?? ''), realIconv.decode(bytes, encoding), `${encoding}: ${text}`);
      const encoder = getEncoder(encoding);
      t.same(encoder.write(text), bytes, `encode ${encoding}: ${text}`);
    }
  }
  const split = getDecoder('cesu8');
  const euro = Buffer.from('€', 'utf8');
  t.equal(String(split.write(euro.subarray(0, 1))) + String(split.write(euro.subarray(1))), '€', 'a character split across writes');
});

t.test('utf8-iconv: any other encoding goes to the real iconv-lite', async (t) => {
  const latin = Buffer.from([0x80, 0xe9, 0x9f]);
  const decoder = getDecoder('cp1252');
  t.equal(String(decoder.write(latin)) + String(decoder.end() ?? ''), realIconv.decode(latin, 'cp1252'));
  t.equal(realIconv.decode(latin, 'cp1252'), '€éŸ');
  t.same(getEncoder('cp1252').write('€éŸ'), latin);
});

t.test('a lazy lru.min cache (as the MySQL bundle makes them): no slots until first use, then the real cache', async (t) => {
  const { createLRU } = createRequire(import.meta.url)('lru.min') as typeof import('lru.min');
  let made = 0;
  const evicted: string[] = [];
  const cache = lazyModule(() => (made++, createLRU<string, number>({ max: 2, onEviction: (key) => evicted.push(key) })));
  t.equal(made, 0, 'nothing allocated when created');
  cache.set('a', 1);
  cache.set('b', 2);
  t.equal(cache.get('a'), 1);
  cache.set('c', 3); // evicts the least recently used: b
  t.same(evicted, ['b']);
  t.equal(cache.size, 2);
  t.same([...cache.keys()].sort(), ['a', 'c']);
  t.equal(made, 1, 'made once');
});
