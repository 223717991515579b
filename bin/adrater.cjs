#!/usr/bin/env node
// The one entry script: a CGI request, a FastCGI responder, or a command (lib/main.ts
// chooses). CommonJS on purpose (bin/package.json): a CGI run pays Node's start-up on every
// request, so it loads one bundle of the code (dist/lib/adrater.js, built by `npm run
// build`) and one store driver, each compiled with V8's code cache.
// What runs is bin/adrater, which the install writes from this file (lib/build/bin.mjs): the
// same script with the absolute path of the installing node in its #! line, so that a CGI
// run is one exec, not env's and then node's. This file, with `#!/usr/bin/env node`, runs
// the same anywhere node is on PATH.
// The #! line passes node no flag: any V8 flag makes V8 refuse Node's own code cache for its
// built-in modules, ~8 ms of CPU in every CGI run on MySQL. (The persistent responder limits
// its young generation itself: lib/fastcgi/server.ts.)
'use strict';
const started = process.uptime() * 1000; // not performance.now(): that global loads perf_hooks
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = module.constructor; // require('node:module') would load the ESM loader too

const bundleDir = path.join(__dirname, '..', 'dist', 'lib') + path.sep;
const written = [];

// Bundles compile with the code cache V8 wrote after an earlier run; without one (first
// run, new Node, changed bundle) they compile as usual and leave a cache for the next run,
// if this user may write it. They are loaded here, not by require(): a bundle's name is
// its path, so Node's search (a stat and a realpath of every directory above) is not paid.
const bundles = new Map();
function loadBundle(name) {
  let module = bundles.get(name);
  if (module) return module.exports;
  const filename = bundleDir + name;
  module = new Module(filename, null);
  module.filename = filename;
  module.paths = Module._nodeModulePaths(bundleDir);
  bundles.set(name, module); // before it runs: the bundles require each other
  try {
    runBundle(module, filename);
  } catch (err) {
    bundles.delete(name); // a second require fails again, rather than getting half a module
    throw err;
  }
  module.loaded = true;
  return module.exports;
}

function runBundle(module, filename) {
  const cacheFile = filename + '.v8cache';
  let cachedData;
  try {
    cachedData = fs.readFileSync(cacheFile);
  } catch {}
  // A bundle is one function expression (lib/build/build.mjs): compiled as it is, not wrapped.
  // No importModuleDynamically: the build turns import() into require() (Node's handling of
  // that option, compiled cold, was ~0.1 ms of each run).
  const script = new vm.Script(fs.readFileSync(filename, 'utf8'), { filename, cachedData });
  if (!cachedData || script.cachedDataRejected) written.push([script, cacheFile]);
  const requireFromBundle = (id) => (BUNDLE.test(id) ? loadBundle(id.slice(2)) : module.require(id));
  requireFromBundle.resolve = (request, options) => Module._resolveFilename(request, module, false, options);
  script.runInThisContext().call(module.exports, module.exports, requireFromBundle, module, filename, bundleDir.slice(0, -1));
}
const BUNDLE = /^\.\/(adrater|sqlite|mysql-cgi|mysql|fcgi|cli)\.js$/;

function saveCodeCache() {
  for (const [script, cacheFile] of written) {
    try {
      const temp = `${cacheFile}.${process.pid}`;
      fs.writeFileSync(temp, script.createCachedData());
      fs.renameSync(temp, cacheFile);
    } catch {} // not ours to write (a web server's user): run without it
  }
}

/**
 * adrater.js cannot be loaded (a build missing or broken: a file of dist/ gone or
 * unreadable). Under a web server the answer is still a 500 document with a request id, in
 * the format asked for (CONTRACT §4); the reason goes to the log only.
 */
function unbuilt(err) {
  const cannot = `cannot load ${bundleDir}adrater.js (npm run build makes it)`;
  if (process.env.GATEWAY_INTERFACE === undefined) {
    fs.writeSync(2, `adrater: ${cannot}: ${(err && err.message) || err}\n`);
  } else {
    const id = `${process.pid.toString(36)}-${Date.now().toString(36)}-1`;
    const reason = String((err && err.stack) || err).replace(/[\r\n]+/g, ' | ');
    fs.writeSync(2, `adrater[${process.pid}]: req=${id} 500 internal error: ${cannot}: ${reason}\n`);
    let json = false;
    for (const pair of (process.env.QUERY_STRING || '').split('&')) {
      const [name, value] = pair.split('=');
      if (name.toLowerCase() === 'format') json = value === 'json';
    }
    const message = `internal error; request id ${id}`;
    const body = json
      ? `${JSON.stringify({ error: { status: 500, code: 'internal', message, requestId: id } })}\n`
      : `<?xml version="1.0" encoding="UTF-8"?>\n<error status="500" code="internal" request-id="${id}">${message}</error>\n`;
    const head = `Status: 500 Internal Server Error\r\nContent-Type: ${json ? 'application/json' : 'text/xml; charset=utf-8'}\r\nContent-Length: ${body.length}\r\n\r\n`;
    fs.writeSync(1, (process.env.REQUEST_METHOD || '').toUpperCase() === 'HEAD' ? head : head + body);
  }
  process.exit(1);
}

const argv = process.argv.slice(2);
let adrater;
try {
  adrater = loadBundle('adrater.js');
} catch (err) {
  unbuilt(err);
}
const mode = adrater.chooseMode(argv, process.env);
function exit(code) {
  if (mode === 'cgi' && written.length > 0) saveCodeCache();
  process.exit(code);
}
// A responder writes the caches of the bundles it compiled without one (fcgi.js and
// mysql.js, which no CGI run loads; cli.js when started by a command line) once it has
// answered its first request: they then hold its request path, and its V8 flags are still
// those of every start (its young generation's flag comes later, lib/fastcgi/server.ts:
// a cache written after it would be refused by every start). Not at its exit, and never
// when node was started with flags of its own (node --cpu-prof bin/adrater fcgi), whose
// caches every plain start would refuse. A CGI run writes at its exit.
function firstAnswered() {
  if (written.length === 0 || process.execArgv.length > 0 || (process.env.NODE_OPTIONS || '').trim() !== '') return;
  saveCodeCache();
  written.length = 0;
}
adrater.run(mode, argv, started, firstAnswered).then(
  () => exit(process.exitCode ?? 0),
  (err) => {
    process.stderr.write(`adrater: ${err && err.message ? err.message : String(err)}\n`);
    exit(1);
  },
);
