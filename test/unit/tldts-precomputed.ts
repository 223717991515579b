// The build replaces tldts's derivation of its trie with the derived arrays
// (lib/build/tldts-precomputed.mjs). Checked here against the unchanged tldts: the same
// arrays, and the same answers for every suffix of the public-suffix list, below and beside it.
import t from 'tap';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(import.meta.url);
const FILE = require.resolve('tldts'); // dist/cjs/index.js, as the build bundles it
const SOURCE = readFileSync(FILE, 'utf8');

type Tldts = { getDomain(h: string): string | null; getPublicSuffix(h: string): string | null; __derived: Record<string, Uint8Array | Uint16Array | Uint32Array | Int32Array> & { labelText: string } };
type Precompute = {
  precomputeDerivedTrie(source: string, file: string): { source: string; trie: Buffer };
  runWithDerived(source: string, file: string, dirname?: string): Tldts;
  TRIE_FILE: string;
};
const load = async () => (await import(pathToFileURL(join(ROOT, 'lib/build/tldts-precomputed.mjs')).href)) as Precompute;

/** Every suffix the trie holds (rules and exceptions), from the arrays tldts ships. */
function allSuffixes(): string[] {
  const trie = require(join(dirname(FILE), 'src/data/trie.js')) as {
    edgeStart: Uint16Array; edgeLength: Uint8Array; edgeChild: Uint16Array; labelText: string; rulesRoot: number; exceptionsRoot: number;
  };
  const offsets: number[] = [];
  for (let e = 0, o = 0; e < trie.edgeLength.length; o += trie.edgeLength[e], e += 1) offsets.push(o);
  const out: string[] = [];
  const walk = (node: number, suffix: string, depth: number) => {
    for (let e = trie.edgeStart[node]; e < trie.edgeStart[node + 1]; e += 1) {
      const label = trie.labelText.slice(offsets[e], offsets[e] + trie.edgeLength[e]).replace('*', 'any');
      const name = suffix ? `${label}.${suffix}` : label;
      out.push(name);
      if (depth < 8) walk(trie.edgeChild[e], name, depth + 1);
    }
  };
  walk(trie.rulesRoot, '', 0);
  walk(trie.exceptionsRoot, '', 0);
  return [...new Set(out)];
}

t.test('the precomputed arrays equal those tldts derives, and every suffix gets the same answers', async (t) => {
  const { precomputeDerivedTrie, runWithDerived, TRIE_FILE } = await load();
  const original = runWithDerived(SOURCE, FILE);
  const { source: patchedSource, trie } = precomputeDerivedTrie(SOURCE, FILE);
  t.notOk(patchedSource.includes('const edgeOffset = new Uint32Array(numberOfEdges);'), 'the derivation is gone');
  t.notOk(patchedSource.includes('base64'), 'no array in the source: all read from the file');
  // The patched module reads its arrays from the file beside it, as beside the bundle.
  const dir = mkdtempSync(join(tmpdir(), 'adrater-trie-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, TRIE_FILE), trie);
  const patched = runWithDerived(patchedSource, FILE, dir);
  for (const name of ['nodeFlags', 'edgeStart', 'edgeLength', 'edgeChild']) {
    t.notMatch(patchedSource, new RegExp(`const ${name} = /\\*#__PURE__\\*/ new \\w+\\(\\[`), `${name}: no array literal left`);
  }
  t.notMatch(patchedSource, /const labelText = "/, 'no labels literal left');
  t.equal(new TextDecoder('utf-16le').decode(patched.__derived.labelText as unknown as Uint16Array), original.__derived.labelText, 'labelText: the same code units, read from the file');
  t.ok(/[^\u0000-\u00ff]/.test(original.__derived.labelText), 'labels beyond Latin-1 among them (so UTF-16 in the file)');
  for (const name of ['nodeFlags', 'edgeStart', 'edgeLength', 'edgeChild', 'edgeOffset', 'edgeHash', 'wildcardEdge']) {
    t.equal(patched.__derived[name].constructor, original.__derived[name].constructor, `${name}: same type`);
    t.same([...patched.__derived[name]], [...original.__derived[name]], `${name}: same values`);
  }
  const suffixes = allSuffixes();
  t.ok(suffixes.length > 9000, `${suffixes.length} suffixes from the trie`);
  let differ = 0;
  for (const suffix of suffixes) {
    for (const host of [suffix, `example.${suffix}`, `www.example.${suffix}`, `${suffix}.example`]) {
      if (patched.getDomain(host) !== original.getDomain(host) || patched.getPublicSuffix(host) !== original.getPublicSuffix(host)) differ++;
    }
  }
  t.equal(differ, 0, 'getDomain and getPublicSuffix agree on every host');
  t.equal(patched.getDomain('www.city.kawasaki.jp'), 'city.kawasaki.jp', 'an exception rule');
  t.equal(patched.getDomain('a.b.kawasaki.jp'), 'a.b.kawasaki.jp', 'a wildcard rule');
});

t.test('another tldts (the derivation moved, an array shipped otherwise): the build stops and says why', async (t) => {
  const { precomputeDerivedTrie } = await load();
  t.throws(() => precomputeDerivedTrie(SOURCE.replace('const edgeOffset = new Uint32Array(numberOfEdges);', 'const edgeOffset = derive();'), FILE), /a new tldts version\?/);
  t.throws(() => precomputeDerivedTrie(SOURCE.replace('const edgeChild = /*#__PURE__*/ new Uint16Array([', 'const edgeChild = new Uint16Array(['), FILE), /trie arrays are not the literals/);
  t.throws(() => precomputeDerivedTrie(SOURCE.replace('const labelText = "', 'const labelText = /* text */ "'), FILE), /labels are not the string literal/);
  t.throws(() => precomputeDerivedTrie(SOURCE.replace('labelText.charCodeAt(offset + i)', 'labelText.codePointAt(offset + i)'), FILE), /reads its labels otherwise/);
});
