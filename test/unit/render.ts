import t from 'tap';
import { XMLValidator, XMLParser } from 'fast-xml-parser';
import { renderXml, renderJson, renderError, escapeXml } from '../../lib/core/render.js';

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' });

t.test('escaping', async (t) => {
  t.equal(escapeXml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;');
  t.equal(escapeXml('a\tb\nc\rd'), 'a&#9;b&#10;c&#13;d');
  t.equal(escapeXml('\u0000\u0008\u000b\u001f\ufffe\uffff'), '\uFFFD'.repeat(6));
  t.equal(escapeXml('lone \ud800 and \udc00'), 'lone \uFFFD and \uFFFD');
  t.equal(escapeXml('😀 ü ]]> <!ENTITY x>'), '😀 ü ]]&gt; &lt;!ENTITY x&gt;');
});

t.test('escaping: every character class, alone and mixed, as one full replace does it', async (t) => {
  // The reference: one pass of XML 1.0's Char production and the five entities, with no
  // cheaper test in front (escapeXml tests first and replaces only when that test says so).
  const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\t': '&#9;', '\n': '&#10;', '\r': '&#13;' };
  const reference = (s: string) => s.replace(/[&<>"'\t\n\r]|[^\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, (ch) => ENTITIES[ch] ?? '\uFFFD');
  const pieces = ['a', 'é', '&', '<', '>', '"', "'", '\t', '\n', '\r', '\u0000', '\u001f', ' ', '\u007f', '\ud7ff', '\ud800', '\udbff', '\udc00', '\udfff', '😀', '\ue000', '\ufffd', '\ufffe', '\uffff'];
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  let differing = 0;
  for (let i = 0; i < 20_000; i++) {
    let s = '';
    for (let n = Math.floor(random() * 6); n >= 0; n--) s += pieces[Math.floor(random() * pieces.length)];
    if (escapeXml(s) !== reference(s) && differing++ < 3) t.fail(`differs for ${JSON.stringify(s)}`);
  }
  t.equal(differing, 0, '20,000 strings');
});

t.test('the document of the contract', async (t) => {
  const xml = renderXml([
    { url: 'http://www.example.com/a?b=1&c=2', domain: 'example.com', status: 'rated', rating: 'A', rated: '2026-01-02T03:04:05Z', expires: '2027-01-02T03:04:05Z', info: '...' },
    { url: 'http://new.example.org/', domain: 'example.org', status: 'queued' },
    { url: 'ftp://x.example/', status: 'invalid', reason: 'scheme not rated' },
  ]);
  t.equal(
    xml,
    '<?xml version="1.0" encoding="UTF-8"?>\n<ratings>\n' +
      '  <site url="http://www.example.com/a?b=1&amp;c=2" domain="example.com" status="rated" rating="A" rated="2026-01-02T03:04:05Z" expires="2027-01-02T03:04:05Z" info="..."/>\n' +
      '  <site url="http://new.example.org/" domain="example.org" status="queued"/>\n' +
      '  <site url="ftp://x.example/" status="invalid" reason="scheme not rated"/>\n</ratings>\n',
  );
});

t.test('well-formed and faithful for any text', async (t) => {
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  for (let i = 0; i < 2000; i++) {
    let s = '';
    const n = Math.floor(random() * 30);
    for (let j = 0; j < n; j++) s += String.fromCharCode(Math.floor(random() * (random() < 0.8 ? 128 : 0x10000)));
    const xml = renderXml([{ url: s, status: 'invalid', reason: s }]);
    const valid = XMLValidator.validate(xml);
    if (valid !== true) {
      t.fail(`not well-formed for ${JSON.stringify(s)}: ${JSON.stringify(valid)}`);
      break;
    }
    const json = JSON.parse(renderJson([{ url: s, status: 'invalid' }]));
    if (json.ratings[0].url !== s) t.fail(`JSON changed ${JSON.stringify(s)}`);
  }
  const parsed = parser.parse(renderXml([{ url: 'a&b<c>"d\'', status: 'queued', domain: 'x.com' }]));
  t.equal(parsed.ratings.site.url, 'a&b<c>"d\'', 'a parser gets the URL back');
});

t.test('errors', async (t) => {
  const xml = renderError({ status: 400, code: 'bad-priority', message: 'priority must be an integer' }, 'xml');
  t.equal(xml.body, '<?xml version="1.0" encoding="UTF-8"?>\n<error status="400" code="bad-priority">priority must be an integer</error>\n');
  t.equal(xml.contentType, 'text/xml; charset=utf-8');
  const json = renderError({ status: 500, code: 'internal', message: 'm' }, 'json', 'id-1');
  t.same(JSON.parse(json.body), { error: { status: 500, code: 'internal', message: 'm', requestId: 'id-1' } });
  t.equal(json.contentType, 'application/json');
});
