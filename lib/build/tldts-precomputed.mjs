// tldts derives three arrays from its public-suffix trie each time it loads (edgeOffset,
// edgeHash, wildcardEdge: a hashing pass over the trie's 68,000 characters of labels). Its
// authors measured ~1 ms, warm; a CGI run does it cold, in V8's interpreter, for ~5 ms, on
// every request. The build does the pass once, with tldts's own code, and puts the three
// arrays in the bundle as base64 that Buffer decodes in native code at load. The trie's own
// arrays go the same way: as array literals (10,487 numbers each for two of them) V8 keeps
// every element in the code cache (~170 KB of the bundle's 513 KB cache) and builds a JS
// array of each before copying it into its typed array. The bundle is built on the machine
// that runs it (`npm run build` at install), so the byte order matches.
// The text replaced must be exactly this tldts version's: otherwise the build stops.
import vm from 'node:vm';
import { createRequire } from 'node:module';

const START = 'const edgeOffset = new Uint32Array(numberOfEdges);';
const END = '\n// Result of the last `walk`';
const DERIVED = ['edgeOffset', 'edgeHash', 'wildcardEdge'];
// The trie's arrays as tldts ships them: `const name = /*#__PURE__*/ new Uint8Array([1, 2, …]);`
const LITERALS = ['nodeFlags', 'edgeStart', 'edgeLength', 'edgeChild'];
const LITERAL = new RegExp(`const (${LITERALS.join('|')}) = /\\*#__PURE__\\*/ new \\w+\\(\\[[\\d,\\s]*\\]\\);`, 'g');

/** `const name = new Type(…)` whose values come from base64 that Buffer decodes at load. */
function base64Decl(name, array) {
  const base64 = Buffer.from(array.buffer, array.byteOffset, array.byteLength).toString('base64');
  // Copied into a fresh buffer: a typed array of 16- or 32-bit values needs an aligned offset.
  return `const ${name} = /* @__PURE__ */ new ${array.constructor.name}(new Uint8Array(Buffer.from(${JSON.stringify(base64)}, 'base64')).buffer);`;
}

/** The module's exports, with its trie's arrays and the derived ones as `__derived` (the source run as CommonJS). */
export function runWithDerived(source, filename) {
  const module = { exports: {} };
  const wrapped = `(function (exports, require, module) {${source}\nmodule.exports.__derived = { ${[...LITERALS, ...DERIVED].join(', ')} };\n})`;
  vm.runInThisContext(wrapped, { filename })(module.exports, createRequire(filename), module);
  return module.exports;
}

/** tldts's dist/cjs/index.js with the derivation replaced by its result, and every array as base64. */
export function precomputeDerivedTrie(source, filename) {
  const start = source.indexOf(START);
  const end = source.indexOf(END, start);
  if (start < 0 || end < 0 || source.includes(START, start + 1)) {
    throw new Error(`${filename}: tldts's derivation of its trie is not where the build expects it (a new tldts version?): update lib/build/tldts-precomputed.mjs`);
  }
  const derived = runWithDerived(source, filename).__derived;
  const literals = [...source.matchAll(LITERAL)];
  if (literals.map((m) => m[1]).sort().join() !== [...LITERALS].sort().join()) {
    throw new Error(`${filename}: tldts's trie arrays are not the literals the build expects (a new tldts version?): update lib/build/tldts-precomputed.mjs`);
  }
  const withDerived = `${source.slice(0, start)}// Precomputed by adrater's build (lib/build/tldts-precomputed.mjs).\n${DERIVED.map((name) => base64Decl(name, derived[name])).join('\n')}${source.slice(end)}`;
  return withDerived.replace(LITERAL, (_, name) => base64Decl(name, derived[name]));
}
