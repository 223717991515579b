// The build's warm-up of a FastCGI responder (lib/build/build.mjs): bin/adrater started as
// bench and the tests start it (`fcgi --listen`, lib/bench/responder.ts), one look-up asked
// over FastCGI (lib/fastcgi/client.ts), then SIGTERM. Once it has answered, the responder
// writes V8's cache of each bundle it compiled without one (bin/adrater.cjs): fcgi.js,
// cli.js and, on MySQL, mysql.js, which no CGI run loads and so no CGI warm-up writes.
import { build } from 'esbuild';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const ANSWER_MS = 10_000;

/**
 * Runs `work({ lookUpOnce, freePort })`: lib/bench/responder.ts's freePort, and lookUpOnce(db,
 * params), which starts a responder on `db`, asks `params`, stops it and resolves to the
 * answer's stdout (status line, headers, body); it rejects when the responder does not start,
 * does not answer within ANSWER_MS, or does not exit 0 on SIGTERM.
 */
export async function withResponders(root, work) {
  const dir = mkdtempSync(join(tmpdir(), 'adrater-build-fcgi-'));
  try {
    const tools = join(dir, 'tools.mjs');
    await build({
      stdin: { contents: "export { startResponder, freePort } from './lib/bench/responder.ts'; export { connectFcgi } from './lib/fastcgi/client.ts';", resolveDir: root, loader: 'ts' },
      bundle: true, platform: 'node', format: 'esm', outfile: tools, logLevel: 'error',
      define: { 'import.meta.dirname': JSON.stringify(join(root, 'lib/bench')) },
    });
    const { startResponder, freePort, connectFcgi } = await import(pathToFileURL(tools).href);
    const lookUpOnce = async (db, params) => {
      const responder = await startResponder({ env: { ADRATER_DB: db }, path: join(dir, 'responder.sock') });
      try {
        const fcgi = await connectFcgi({ path: responder.path });
        let late;
        const answer = await Promise.race([
          fcgi.request(params),
          new Promise((_, reject) => (late = setTimeout(() => reject(new Error(`no answer in ${ANSWER_MS} ms:\n${responder.stderr()}`)), ANSWER_MS))),
        ]).finally(() => clearTimeout(late));
        fcgi.close();
        const status = await responder.stop();
        if (status !== 0) throw new Error(`the responder exited with ${status}:\n${responder.stderr()}`);
        return answer.stdout.toString();
      } finally {
        await responder.stop('SIGKILL');
      }
    };
    return await work({ lookUpOnce, freePort });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
