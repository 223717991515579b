// tldts derives three arrays from its public-suffix trie each time it loads (edgeOffset,
// edgeHash, wildcardEdge: a hashing pass over the trie's 68,000 characters of labels). Its
// authors measured ~1 ms, warm; a CGI run does it cold, in V8's interpreter, for ~5 ms, on
// every request. The build does the pass once, with tldts's own code, and writes the three
// arrays and the trie's own four into one file beside the bundle (TRIE_FILE), of which the
// bundle's arrays are views. As array literals (10,487 numbers each for two of them) V8 kept
// every element in the code cache and built a JS array of each before copying it; as base64
// in the bundle, the 160 KB of text was read, kept in the code cache again and decoded in
// every run (~2 ms, against ~0.8 for reading the file). The trie's labels, one string of
// 68,446 characters (some beyond Latin-1, so two bytes each in V8), are in the file too, as
// UTF-16 code units that tldts's one comparison reads from a Uint16Array: as a literal, the
// bundle held them escaped and the code cache as 137 KB of the string, read and copied by
// every CGI run, and a string made from the file cost as much again (~0.35 ms). The bundle
// is built on the machine that runs it (`npm run build` at install), so the byte order
// matches.
// The text replaced must be exactly this tldts version's: otherwise the build stops.
import vm from 'node:vm';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const START = 'const edgeOffset = new Uint32Array(numberOfEdges);';
const END = '\n// Result of the last `walk`';
const DERIVED = ['edgeOffset', 'edgeHash', 'wildcardEdge'];
// The trie's arrays as tldts ships them: `const name = /*#__PURE__*/ new Uint8Array([1, 2, …]);`
const LITERALS = ['nodeFlags', 'edgeStart', 'edgeLength', 'edgeChild'];
const LITERAL = new RegExp(`const (${LITERALS.join('|')}) = /\\*#__PURE__\\*/ new \\w+\\(\\[[\\d,\\s]*\\]\\);`, 'g');
// The labels, as tldts ships them: one string literal on a line of its own, read (once the
// derivation is gone) by one comparison of a code unit.
const LABELS = /^const labelText = "[^"\\\n]*";$/m;
const LABEL_READ = 'labelText.charCodeAt(offset + i)';

export const TRIE_FILE = 'tldts-trie.bin';

/** The file a bundle takes tldts from (dist/cjs/index.js), which the plugin below replaces. */
export const TLDTS_SOURCE = /[\\/]node_modules[\\/]tldts[\\/]dist[\\/]cjs[\\/]index\.js$/;

/** An esbuild plugin: tldts with its derived arrays precomputed, the trie written to `outDir`/TRIE_FILE beside the bundle. */
export function tldtsPrecomputed(outDir) {
  return {
    name: 'tldts-precomputed',
    setup(b) {
      b.onLoad({ filter: TLDTS_SOURCE }, (args) => {
        const { source, trie } = precomputeDerivedTrie(readFileSync(args.path, 'utf8'), args.path);
        writeFileSync(path.join(outDir, TRIE_FILE), trie);
        return { contents: source, loader: 'js' };
      });
    },
  };
}

// Appended to tldts's module: the file read once, when its first array is made. Each array
// starts at a multiple of 8 bytes, and a buffer Node did not place at an aligned offset is
// copied (a 16- or 32-bit view needs one).
const LOADER = `
// adrater's build: the trie's arrays are views of ${TRIE_FILE}, beside this bundle (lib/build/tldts-precomputed.mjs).
var __adraterTrieBytes;
function __adraterTrie(Type, offset, length) {
  if (__adraterTrieBytes === undefined) {
    const bytes = require("fs").readFileSync(require("path").join(__dirname, ${JSON.stringify(TRIE_FILE)}));
    __adraterTrieBytes = bytes.byteOffset % 8 === 0 ? bytes : new Uint8Array(bytes);
  }
  return new Type(__adraterTrieBytes.buffer, __adraterTrieBytes.byteOffset + offset, length);
}
`;

/** The module's exports, with its trie's arrays and the derived ones as `__derived` (the source run as CommonJS in `dirname`). */
export function runWithDerived(source, filename, dirname = path.dirname(filename)) {
  const module = { exports: {} };
  const wrapped = `(function (exports, require, module, __dirname) {${source}\nmodule.exports.__derived = { ${[...LITERALS, ...DERIVED, 'labelText'].join(', ')} };\n})`;
  vm.runInThisContext(wrapped, { filename })(module.exports, createRequire(filename), module, dirname);
  return module.exports;
}

/**
 * tldts's dist/cjs/index.js with the derivation replaced by its result, every array a view
 * of `trie` (the bytes to write to TRIE_FILE beside the bundle) and its labels read from it.
 */
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
  const offsets = new Map();
  let size = 0;
  for (const name of [...LITERALS, ...DERIVED]) {
    offsets.set(name, size);
    size += Math.ceil(derived[name].byteLength / 8) * 8;
  }
  if (!LABELS.test(source)) {
    throw new Error(`${filename}: tldts's labels are not the string literal the build expects (a new tldts version?): update lib/build/tldts-precomputed.mjs`);
  }
  const labels = Buffer.from(derived.labelText, 'utf16le');
  const labelsAt = size;
  const trie = Buffer.alloc(size + labels.length);
  for (const [name, at] of offsets) Buffer.from(derived[name].buffer, derived[name].byteOffset, derived[name].byteLength).copy(trie, at);
  labels.copy(trie, labelsAt);
  const view = (name) => `const ${name} = /* @__PURE__ */ __adraterTrie(${derived[name].constructor.name}, ${offsets.get(name)}, ${derived[name].length});`;
  const withDerived = `${source.slice(0, start)}// Precomputed by adrater's build (lib/build/tldts-precomputed.mjs).\n${DERIVED.map(view).join('\n')}${source.slice(end)}`;
  // Its declaration and that one read (comments name it `labelText`, in backquotes).
  const labelUses = withDerived.match(/(?<!`)\blabelText\b(?!`)/g)?.length;
  if (labelUses !== 2 || !withDerived.includes(LABEL_READ)) {
    throw new Error(`${filename}: tldts reads its labels otherwise than the build expects (a new tldts version?): update lib/build/tldts-precomputed.mjs`);
  }
  const labelsView = `const labelText = /* @__PURE__ */ __adraterTrie(Uint16Array, ${labelsAt}, ${derived.labelText.length});`;
  const patched = withDerived.replace(LITERAL, (_, name) => view(name)).replace(LABELS, () => labelsView).replace(LABEL_READ, 'labelText[offset + i]');
  return { source: patched + LOADER, trie };
}
