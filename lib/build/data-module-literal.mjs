// mysql2's table of character sets (constants/charsets.js) is 313 assignments to `exports`,
// each giving the object a new hidden class when it runs: ~0.6 ms of a CGI run on MySQL.
// The build runs such a module once and bundles what it exports as one object literal
// (~0.1 ms). Only a module of plain data qualifies: one that requires nothing and exports
// only integers; anything else stops the build, which must then be looked at again.
import { readFileSync } from 'node:fs';

/** The source of a module exporting the same integers as the one at `path`, as one literal. */
export function integerTableLiteral(path, source = readFileSync(path, 'utf8')) {
  const module = { exports: {} };
  const noRequire = (id) => {
    throw new Error(`it requires ${id}`);
  };
  try {
    new Function('exports', 'require', 'module', source)(module.exports, noRequire, module);
    const names = Object.keys(module.exports);
    if (names.length === 0 || !names.every((name) => Number.isInteger(module.exports[name]))) throw new Error('it exports other than integers');
  } catch (err) {
    throw new Error(`${path} is no longer a table of integers as the build expects (${err.message}): update lib/build/build.mjs`);
  }
  return `module.exports = ${JSON.stringify(module.exports)};\n`;
}
