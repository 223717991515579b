// tldts derives three arrays from its public-suffix trie each time it loads (edgeOffset,
// edgeHash, wildcardEdge: a hashing pass over the trie's 68,000 characters of labels). Its
// authors measured ~1 ms, warm; a CGI run does it cold, in V8's interpreter, for ~5 ms, on
// every request. The build does the pass once, with tldts's own code, and puts the three
// arrays in the bundle as base64 that Buffer decodes in native code at load. The bundle is
// built on the machine that runs it (`npm run build` at install), so the byte order matches.
// The text replaced must be exactly this tldts version's: otherwise the build stops.
import vm from 'node:vm';
import { createRequire } from 'node:module';

const START = 'const edgeOffset = new Uint32Array(numberOfEdges);';
const END = '\n// Result of the last `walk`';
const DERIVED = ['edgeOffset', 'edgeHash', 'wildcardEdge'];

/** The module's exports, with its derived arrays as `__derived` (the source run as CommonJS). */
export function runWithDerived(source, filename) {
  const module = { exports: {} };
  const wrapped = `(function (exports, require, module) {${source}\nmodule.exports.__derived = { ${DERIVED.join(', ')} };\n})`;
  vm.runInThisContext(wrapped, { filename })(module.exports, createRequire(filename), module);
  return module.exports;
}

/** tldts's dist/cjs/index.js with the derivation replaced by its result. */
export function precomputeDerivedTrie(source, filename) {
  const start = source.indexOf(START);
  const end = source.indexOf(END, start);
  if (start < 0 || end < 0 || source.includes(START, start + 1)) {
    throw new Error(`${filename}: tldts's derivation of its trie is not where the build expects it (a new tldts version?): update lib/build/tldts-precomputed.mjs`);
  }
  const derived = runWithDerived(source, filename).__derived;
  const decl = (name) => {
    const array = derived[name];
    const base64 = Buffer.from(array.buffer, array.byteOffset, array.byteLength).toString('base64');
    // Copied into a fresh buffer: a typed array of 32-bit values needs an aligned offset.
    return `const ${name} = /* @__PURE__ */ new ${array.constructor.name}(new Uint8Array(Buffer.from(${JSON.stringify(base64)}, 'base64')).buffer);`;
  };
  return `${source.slice(0, start)}// Precomputed by adrater's build (lib/build/tldts-precomputed.mjs).\n${DERIVED.map(decl).join('\n')}${source.slice(end)}`;
}
