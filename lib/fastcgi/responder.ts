// The persistent life's entry: one process serving (server.ts), or a supervisor of workers
// (supervisor.ts). It is its own bundle (dist/lib/fcgi.js, lib/build/build.mjs), so that a
// CGI run, which never serves FastCGI, neither reads nor compiles it (it cost every CGI run
// ~0.5M instructions as part of adrater.js: README "Performance").
export { runFastCgi } from './server.js';
export { runSupervisor } from './supervisor.js';
