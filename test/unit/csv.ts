import t from 'tap';
import { csvParser } from '../../lib/rater/csv.js';
import { seeded } from '../helpers/random.js';
import type { CsvRecord } from '../../lib/rater/csv.js';

function parse(text: string, chunk = text.length || 1): CsvRecord[] {
  const out: CsvRecord[] = [];
  const p = csvParser((r) => out.push(r));
  for (let i = 0; i < text.length; i += chunk) p.write(text.slice(i, i + chunk));
  p.end();
  return out;
}

const cases: Array<[string, string, Array<[number, string[]]>]> = [
  ['plain LF', 'a,b\n1,2\n', [[1, ['a', 'b']], [2, ['1', '2']]]],
  ['CRLF', 'a,b\r\n1,2\r\n', [[1, ['a', 'b']], [2, ['1', '2']]]],
  ['no final newline', 'a,b\n1,2', [[1, ['a', 'b']], [2, ['1', '2']]]],
  ['BOM', '\uFEFFa,b\n1,2\n', [[1, ['a', 'b']], [2, ['1', '2']]]],
  ['embedded comma and quotes', 'a\n"x, ""y"""\n', [[1, ['a']], [2, ['x, "y"']]]],
  ['embedded LF counts lines', 'a,b\n"l1\nl2",z\nq,r\n', [[1, ['a', 'b']], [2, ['l1\nl2', 'z']], [4, ['q', 'r']]]],
  ['embedded CRLF counts one line', 'a,b\r\n"l1\r\nl2",z\r\nq,r\r\n', [[1, ['a', 'b']], [2, ['l1\r\nl2', 'z']], [4, ['q', 'r']]]],
  ['blank lines skipped but counted', 'a\n\n\nb\n', [[1, ['a']], [4, ['b']]]],
  ['empty fields', ',,\n', [[1, ['', '', '']]]],
  ['quoted empty', '""\n', [[1, ['']]]],
  ['lone CR ends a record', 'a\rb\r', [[1, ['a']], [2, ['b']]]],
];

for (const [name, text, expected] of cases) {
  for (const chunk of [text.length || 1, 1, 2, 3]) {
    const got = parse(text, chunk).map((r) => [r.line, r.fields]);
    t.same(got, expected, `${name} (chunks of ${chunk})`);
  }
}

t.test('broken quoting is reported, not thrown', async (t) => {
  t.match(parse('a"b,c\n'), [{ line: 1, error: 'quote inside an unquoted field' }]);
  t.match(parse('"ab"c,d\n'), [{ line: 1, error: 'text after a closing quote' }]);
  t.match(parse('x\n"never closed\n\n'), [{ line: 1 }, { line: 2, error: /not closed/ }]);
});

t.test('fuzz: any text parses without throwing, line numbers never go back', async (t) => {
  const random = seeded(3);
  for (let i = 0; i < 3000; i++) {
    const s = random.text('ab,"\r\n\uFEFF ', 40);
    const whole = parse(s);
    const split = parse(s, 1 + random.int(5));
    if (JSON.stringify(whole) !== JSON.stringify(split)) t.fail(`chunking changed the result for ${JSON.stringify(s)}`);
    const lines = s.split(/\r\n|\r|\n/).length;
    let last = 0;
    for (const r of whole) {
      if (r.line < last || r.line > lines) t.fail(`bad line ${r.line} for ${JSON.stringify(s)}`);
      last = r.line;
    }
  }
  t.pass('3000 random inputs');
});
