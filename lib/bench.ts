// `adrater bench`: the same batch requests against the same (scratch) database, through
// CGI (the real bin spawned per request, as a web server would) and through a persistent
// FastCGI responder driven over real sockets. Also: where a CGI run spends its time (from
// its Server-Timing header) and bare `node -e ''` start-up measured in the same run.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectFcgi } from './fastcgi/client.js';
import { openStore } from './store.js';
import type { RatingRow } from './store.js';

export const BIN = fileURLToPath(new URL('../../bin/adrater', import.meta.url));
// What Apache and nginx give a CGI script; never the caller's environment (in this
// project's shells NODE_EXTRA_CA_CERTS alone adds ~50 ms to every Node start).
const WEB_SERVER_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface BenchOptions {
  db?: string;
  rows: number;
  requests: number;
  duration: number;
  concurrency: number;
  urls: number;
  soak?: number;
  json?: string;
  progress: boolean;
}

export interface ModeResult {
  mode: string;
  concurrency: number;
  requests: number;
  errors: number;
  seconds: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile of ascending `sorted` (p in 0..100). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

/** "startup;dur=29.1, load;dur=16" → { startup: 29.1, load: 16 } */
export function parseServerTiming(header: string): Record<string, number> {
  const phases: Record<string, number> = {};
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().split(';');
    const dur = params.map((p) => p.trim()).find((p) => p.startsWith('dur='));
    if (name && dur && Number.isFinite(Number(dur.slice(4)))) phases[name] = Number(dur.slice(4));
  }
  return phases;
}

export function summarize(mode: string, concurrency: number, latencies: number[], errors: number, seconds: number): ModeResult {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    mode,
    concurrency,
    requests: latencies.length,
    errors,
    seconds,
    rps: latencies.length / seconds,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? NaN,
  };
}

/** The query of request n: `rated` sites that have ratings, then one never seen before. */
export function benchQuery(n: number, urls: number, rows: number): string {
  const parts: string[] = [];
  for (let i = 0; i < urls - 1; i++) parts.push(`url=${encodeURIComponent(`http://www.rated-site${(n * 7919 + i * 104729) % rows}.com/page`)}`);
  parts.push(`url=new-${process.pid}-${n}.org`);
  return parts.join('&') + '&priority=2';
}

/** A free TCP port on loopback (for the responder; the tests use it too). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function progressLine(enabled: boolean) {
  let last = 0;
  return (text: string, force = false) => {
    if (!enabled) return;
    if (!force && Date.now() - last < 200) return;
    last = Date.now();
    process.stderr.write(`\r\x1b[K${text}`);
  };
}

/** One CGI run of the real bin; resolves with wall ms, status and Server-Timing. */
function cgiRun(env: Record<string, string>): Promise<{ ms: number; ok: boolean; timing: Record<string, number> }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(BIN, [], { env, stdio: ['ignore', 'pipe', 'ignore'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (d) => out.push(d));
    child.on('error', () => resolve({ ms: performance.now() - started, ok: false, timing: {} }));
    child.on('close', (code) => {
      const ms = performance.now() - started;
      const head = Buffer.concat(out).toString('latin1').split('\r\n\r\n')[0];
      const timing = /^Server-Timing: (.*)$/m.exec(head)?.[1];
      resolve({ ms, ok: code === 0 && head.startsWith('Status: 200'), timing: timing ? parseServerTiming(timing) : {} });
    });
  });
}

function bareNode(env: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['-e', ''], { env, stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', () => resolve(performance.now() - started));
  });
}

/** Runs `work` from `concurrency` workers until `requests` are done or `seconds` pass. */
async function drive(
  concurrency: number,
  requests: number,
  seconds: number,
  work: (n: number, worker: number) => Promise<{ ms: number; ok: boolean }>,
  onProgress: (done: number) => void,
): Promise<{ latencies: number[]; errors: number; seconds: number }> {
  const latencies: number[] = [];
  let errors = 0;
  let issued = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (issued < requests && performance.now() < deadline) {
        const n = issued++;
        const { ms, ok } = await work(n, worker);
        if (ok) latencies.push(ms);
        else errors++;
        onProgress(latencies.length + errors);
      }
    }),
  );
  return { latencies, errors, seconds: (performance.now() - started) / 1000 };
}

/** A scratch database on the chosen back end, seeded with `rows` synthetic ratings. */
async function scratchDatabase(db: string | undefined, rows: number) {
  const dir = mkdtempSync(join(tmpdir(), 'adrater-bench-'));
  let url = `sqlite:${join(dir, 'bench.sqlite')}`;
  let drop = async () => {};
  if (db && !db.startsWith('sqlite:')) {
    const name = `adrater_bench_${process.pid}`;
    const { default: mysql } = await import('mysql2/promise');
    const admin = await mysql.createConnection(db);
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const scratch = new URL(db);
    scratch.pathname = '/' + name;
    url = scratch.toString();
    drop = async () => {
      const again = await mysql.createConnection(db);
      await again.query(`DROP DATABASE IF EXISTS ${name}`);
      await again.end();
    };
  }
  const store = await openStore(url);
  try {
    await store.migrate();
    const batch: RatingRow[] = [];
    for (let i = 0; i < rows; i++) {
      batch.push({ domain: `rated-site${i}.com`, rating: 'ABCDF'[i % 5], info: `synthetic rating ${i}`, ratedAt: '2026-01-01 00:00:00', expiresAt: i % 2 ? '2099-01-01 00:00:00' : null });
      if (batch.length === 5000 || i === rows - 1) await store.writeRatings(batch.splice(0), true);
    }
  } finally {
    await store.close();
  }
  return {
    url,
    async dispose() {
      await drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A process's resident set, in MB (Linux). */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function startResponder(env: Record<string, string>) {
  const port = await freePort();
  // Started as the README says a persistent responder should be: V8's young generation at 2 MB.
  const child = spawn(process.execPath, ['--max-semi-space-size=2', BIN, 'fcgi', '--listen', `127.0.0.1:${port}`, '--max-reqs', '1024'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => (log += d));
  const until = Date.now() + 10000;
  while (!/ready on/.test(log)) {
    if (child.exitCode !== null || Date.now() > until) throw new Error(`the FastCGI responder did not start: ${log.trim()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const exited = new Promise<number | null>((r) => child.on('exit', r));
  return {
    port,
    pid: child.pid!,
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

async function fastcgiPhase(
  env: Record<string, string>,
  options: BenchOptions,
  requests: number,
  seconds: number,
  progress: ReturnType<typeof progressLine>,
  onDone?: (done: number, pid: number) => void,
): Promise<{ result: ModeResult; rss: number }> {
  const responder = await startResponder(env);
  try {
    const clients = await Promise.all(Array.from({ length: options.concurrency }, () => connectFcgi({ host: '127.0.0.1', port: responder.port })));
    const params = (n: number) => ({
      GATEWAY_INTERFACE: 'CGI/1.1',
      REQUEST_METHOD: 'GET',
      SERVER_PROTOCOL: 'HTTP/1.1',
      QUERY_STRING: benchQuery(n, options.urls, options.rows),
      REMOTE_ADDR: '127.0.0.1',
    });
    const run = await drive(
      options.concurrency,
      requests,
      seconds,
      async (n, worker) => {
        const started = performance.now();
        try {
          const answer = await clients[worker].request(params(n));
          return { ms: performance.now() - started, ok: answer.stdout.subarray(0, 11).toString() === 'Status: 200' };
        } catch {
          return { ms: performance.now() - started, ok: false };
        }
      },
      (done) => {
        progress(`fastcgi (${options.concurrency}): ${done} requests…`);
        onDone?.(done, responder.pid);
      },
    );
    for (const c of clients) c.close();
    const rss = rssMb(responder.pid);
    return { result: summarize('fastcgi', options.concurrency, run.latencies, run.errors, run.seconds), rss };
  } finally {
    await responder.stop();
  }
}

export async function runBench(options: BenchOptions): Promise<void> {
  const progress = progressLine(options.progress);
  const say = (line: string) => process.stdout.write(line + '\n');
  progress(`seeding ${options.rows} ratings…`, true);
  const scratch = await scratchDatabase(options.db, options.rows);
  const env: Record<string, string> = { PATH: WEB_SERVER_PATH, ADRATER_DB: scratch.url };
  // Interrupted (Ctrl-C): the scratch database goes too, and the run ends as interrupted.
  const interrupted = (signal: NodeJS.Signals) => {
    void scratch.dispose().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
  try {
    if (options.soak) return await soak(env, options, progress, say);
    const cgiEnv = (n: number) => ({
      ...env,
      GATEWAY_INTERFACE: 'CGI/1.1',
      SERVER_PROTOCOL: 'HTTP/1.1',
      SERVER_SOFTWARE: 'adrater-bench',
      REQUEST_METHOD: 'GET',
      QUERY_STRING: benchQuery(n, options.urls, options.rows),
      REMOTE_ADDR: '127.0.0.1',
    });
    const bare: number[] = [];
    for (let i = 0; i < Math.min(20, options.requests); i++) {
      bare.push(await bareNode({ PATH: WEB_SERVER_PATH }));
      progress(`bare node -e '': ${i + 1}…`);
    }
    const phases: Record<string, number[]> = {};
    const walls: number[] = [];
    const modes: ModeResult[] = [];
    for (const concurrency of [...new Set([1, options.concurrency])]) {
      const run = await drive(
        concurrency,
        options.requests,
        options.duration,
        async (n) => {
          const r = await cgiRun(cgiEnv(n));
          if (concurrency === 1 && r.ok) {
            walls.push(r.ms);
            for (const [name, ms] of Object.entries(r.timing)) (phases[name] ??= []).push(ms);
          }
          return r;
        },
        (done) => progress(`cgi (${concurrency}): ${done} requests…`),
      );
      modes.push(summarize('cgi', concurrency, run.latencies, run.errors, run.seconds));
    }
    const fast = await fastcgiPhase(env, options, Number.MAX_SAFE_INTEGER, options.duration, progress);
    modes.push(fast.result);
    progress('', true);
    if (options.progress) process.stderr.write('\r\x1b[K');

    const cgiSame = modes.find((m) => m.mode === 'cgi' && m.concurrency === options.concurrency)!;
    const ratio = fast.result.rps / cgiSame.rps;
    const kind = scratch.url.startsWith('sqlite:') ? 'SQLite (embedded)' : 'MySQL';
    say(`adrater bench: ${kind}, ${options.rows} ratings, ${options.urls} URLs per request (${options.urls - 1} rated, 1 new), ${cpus().length} CPUs, Node ${process.version}`);
    say('');
    say(table(['mode', 'conc', 'requests', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'errors'], modes.map((m) => [m.mode, m.concurrency, m.requests, m.rps.toFixed(1), m.p50.toFixed(2), m.p90.toFixed(2), m.p99.toFixed(2), m.max.toFixed(2), m.errors])));
    say('');
    say(`FastCGI / CGI throughput at concurrency ${options.concurrency}: ${ratio.toFixed(1)}x; FastCGI responder RSS after the run: ${fast.rss.toFixed(1)} MB`);
    say('');
    const order = ['startup', 'load', 'connect', 'query', 'render'];
    const breakdown: Record<string, number> = {};
    for (const name of order) if (phases[name]) breakdown[name] = median(phases[name]);
    const wall = median(walls);
    const accounted = Object.values(breakdown).reduce((a, b) => a + b, 0);
    const bareMedian = median(bare);
    say('Where a CGI run spends its time (medians of the sequential runs, ms):');
    say(table(['phase', 'ms'], [
      ...Object.entries(breakdown).map(([name, ms]) => [name, ms.toFixed(2)]),
      ['spawn, exit, unmeasured', (wall - accounted).toFixed(2)],
      ['wall (whole run)', wall.toFixed(2)],
      ["bare node -e ''", bareMedian.toFixed(2)],
      ['wall / bare node', `${(wall / bareMedian).toFixed(2)}x`],
    ]));
    if (options.json) {
      writeFileSync(options.json, JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus: cpus().length, db: kind, rows: options.rows, urlsPerRequest: options.urls, modes, ratio, fastcgiRssMb: fast.rss, breakdown, cgiWallMs: wall, bareNodeMs: bareMedian }, null, 2) + '\n');
    }
  } finally {
    process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
    await scratch.dispose();
  }
}

/** A long FastCGI run: RSS after the first 100,000 requests and at the end (leak check). */
async function soak(env: Record<string, string>, options: BenchOptions, progress: ReturnType<typeof progressLine>, say: (line: string) => void) {
  const samples: Array<[number, number]> = [];
  let next = 100_000;
  const { result, rss } = await fastcgiPhase(env, options, options.soak!, Number.MAX_SAFE_INTEGER, progress, (done, pid) => {
    if (done >= next) {
      samples.push([done, rssMb(pid)]);
      next += 100_000;
    }
  });
  if (options.progress) process.stderr.write('\r\x1b[K');
  samples.push([result.requests + result.errors, rss]);
  say(table(['requests', 'RSS MB'], samples.map(([n, mb]) => [n, mb.toFixed(1)])));
  const first = samples[0][1];
  say(`soak: ${result.requests} requests, ${result.errors} errors, ${result.rps.toFixed(0)} req/s; RSS ${first.toFixed(1)} MB after ${samples[0][0]} -> ${rss.toFixed(1)} MB at the end (${(((rss - first) / first) * 100).toFixed(1)}%)`);
  if (options.json) writeFileSync(options.json, JSON.stringify({ soak: samples, result }, null, 2) + '\n');
}

export function table(head: string[], rows: Array<Array<string | number>>): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  return cells.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')).join('\n');
}
