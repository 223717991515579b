// The build bundles mysql2's table of character sets as one object literal
// (lib/build/data-module-literal.mjs). Checked here against mysql2's own module: the same
// names, in the same order, with the same numbers; and a module that is not plain data stops
// the build with a message that says which file.
import t from 'tap';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(import.meta.url);
const CHARSETS = join(dirname(require.resolve('mysql2')), 'lib/constants/charsets.js');
type Literal = { integerTableLiteral(path: string, source?: string): string };
const load = async () => (await import(pathToFileURL(join(ROOT, 'lib/build/data-module-literal.mjs')).href)) as Literal;

/** What a module's source exports, run as CommonJS. */
function exportsOf(source: string): Record<string, unknown> {
  const module = { exports: {} as Record<string, unknown> };
  new Function('exports', 'require', 'module', source)(module.exports, require, module);
  return module.exports;
}

t.test("mysql2's charsets: the literal exports what the module does, in its order", async (t) => {
  const { integerTableLiteral } = await load();
  const real = require(CHARSETS) as Record<string, number>;
  const literal = exportsOf(integerTableLiteral(CHARSETS));
  t.same(Object.entries(literal), Object.entries(real));
  t.equal(literal.UTF8MB4_UNICODE_CI, 224, 'the default charset a connection announces');
  t.equal(literal.BINARY, 63, 'the one the row parsers compare with');
});

t.test('a module that is not a table of integers stops the build, naming the file', async (t) => {
  const { integerTableLiteral } = await load();
  t.throws(() => integerTableLiteral('/x/charsets.js', "exports.A = 1;\nexports.B = 'two';"), /\/x\/charsets\.js is no longer a table of integers .*other than integers/);
  t.throws(() => integerTableLiteral('/x/charsets.js', "exports.A = require('./other').A;"), /it requires \.\/other/);
  t.throws(() => integerTableLiteral('/x/charsets.js', ''), /no longer a table of integers/);
  t.equal(exportsOf(integerTableLiteral('/x/t.js', 'exports.A = 1;\nexports.B = exports.A;')).B, 1, 'aliases keep their values');
});
