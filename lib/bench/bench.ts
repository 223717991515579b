// `adrater bench`: the same batch requests against the same (scratch) database, through
// CGI (the real bin spawned per request, as a web server would) and through a persistent
// FastCGI responder driven over real sockets. Also: where a CGI run spends its time (from
// its Server-Timing header) and bare `node -e ''` start-up measured in the same run.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, platform, release } from 'node:os';
import { progressLine } from '../core/log.js';
import { connectFcgi } from '../fastcgi/client.js';
import { BIN, WEB_SERVER_PATH, rssMb, startResponder } from './responder.js';
import { scratchDatabase } from './scratch.js';
import { storeKind } from '../store/open.js';
import { median, parseServerTiming, summarize, table } from './stats.js';
import type { BenchResult, ModeResult } from './stats.js';
import { renderReport } from './report.js';

export interface BenchOptions {
  db?: string;
  rows: number;
  requests: number;
  duration: number;
  concurrency: number;
  urls: number;
  soak?: number;
  json?: string;
  /** Also write the comparison as a self-contained HTML page here. */
  report?: string;
}

type Progress = ReturnType<typeof progressLine>;
type Env = Record<string, string>;

/** The query of request n: `rated` sites that have ratings, then one never seen before. */
export function benchQuery(n: number, urls: number, rows: number): string {
  const parts: string[] = [];
  for (let i = 0; i < urls - 1; i++) parts.push(`url=${encodeURIComponent(`http://www.rated-site${(n * 7919 + i * 104729) % rows}.com/page`)}`);
  parts.push(`url=new-${process.pid}-${n}.org`);
  return parts.join('&') + '&priority=2';
}

/** One CGI run of the real bin; resolves with wall ms, status and Server-Timing. */
function cgiRun(env: Env): Promise<{ ms: number; ok: boolean; timing: Record<string, number> }> {
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

/**
 * CPU ms (user + system) of the children this process has reaped so far: /proc's cutime and
 * cstime, in USER_HZ ticks (100 a second: Linux's fixed ABI); null without /proc. A tick is
 * 10 ms, a third of a run: only sums over many runs are read from it.
 */
function childrenCpuMs(): number | null {
  try {
    const stat = readFileSync('/proc/self/stat', 'latin1');
    // After the ") " that ends the command's name, fields count from 3 (state): cutime is 16.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[16 - 3]) + Number(fields[17 - 3]);
    return Number.isFinite(ticks) ? ticks * 10 : null;
  } catch {
    return null;
  }
}

function bareNode(env: Env): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    // Its output a pipe, as a CGI run's is: the same spawn, so that only the program differs.
    const child = spawn(process.execPath, ['-e', ''], { env, stdio: ['ignore', 'pipe', 'ignore'] });
    child.stdout.resume();
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

async function fastcgiPhase(
  env: Env,
  options: BenchOptions,
  requests: number,
  seconds: number,
  progress: Progress,
  onDone?: (done: number, pid: number) => void,
): Promise<{ result: ModeResult; rss: number }> {
  // Started as a user would start it: the bin and its own `#!` line.
  const responder = await startResponder({ env, args: ['--max-reqs', '1024'] });
  try {
    const clients = await Promise.all(Array.from({ length: options.concurrency }, () => connectFcgi({ host: '127.0.0.1', port: responder.port! })));
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
        progress.show(`fastcgi (${options.concurrency}): ${done} requests…`);
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
  const progress = progressLine();
  progress.show(`seeding ${options.rows} ratings…`, true);
  const scratch = await scratchDatabase(options.db, options.rows);
  const env: Env = { PATH: WEB_SERVER_PATH, ADRATER_DB: scratch.url };
  // Interrupted (Ctrl-C): the scratch database goes too, and the run ends as interrupted.
  const interrupted = (signal: NodeJS.Signals) => {
    void scratch.dispose().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
  try {
    if (options.soak) return await soak(env, options, progress);
    const cgi = await cgiPhases(env, options, progress);
    const fast = await fastcgiPhase(env, options, Number.MAX_SAFE_INTEGER, options.duration, progress);
    progress.clear();
    const result = benchResult(options, scratch, [...cgi.modes, fast.result], fast.rss, cgi);
    report(result);
    if (options.json) writeFileSync(options.json, JSON.stringify(result, null, 2) + '\n');
    if (options.report) {
      writeFileSync(options.report, renderReport([result]));
      process.stdout.write(`\nThe report: ${options.report}\n`);
    }
  } finally {
    process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
    await scratch.dispose();
  }
}

interface CgiPhases {
  modes: ModeResult[];
  /** Bare `node -e ''` runs, ms, each beside one of `walls`. */
  bare: number[];
  /** Whole CGI runs, one at a time, by turns with bare node's, ms, and each Server-Timing phase of them. */
  walls: number[];
  phases: Record<string, number[]>;
  /** CPU ms summed over those runs, each kind, and how many of each; null without /proc. */
  cpu: { bare: number; cgi: number; runs: number } | null;
}

// Pairs of runs, bare node's and a CGI run's by turns, for the start-up table: on a shared
// machine that speeds up and slows down within minutes, runs taken in two blocks compared
// the machine's two moments as much as the programs (test/drills/cgi-ab.py alternates too).
const START_UP_PAIRS = 40;

/** Bare node's start-up beside a CGI run's, by turns; then CGI runs one at a time and `concurrency` at a time. */
async function cgiPhases(env: Env, options: BenchOptions, progress: Progress): Promise<CgiPhases> {
  const cgiEnv = (n: number) => ({
    ...env,
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: 'HTTP/1.1',
    SERVER_SOFTWARE: 'adrater-bench',
    REQUEST_METHOD: 'GET',
    QUERY_STRING: benchQuery(n, options.urls, options.rows),
    REMOTE_ADDR: '127.0.0.1',
  });
  const result: CgiPhases = { modes: [], bare: [], walls: [], phases: {}, cpu: childrenCpuMs() === null ? null : { bare: 0, cgi: 0, runs: 0 } };
  for (let i = 0; i < Math.min(START_UP_PAIRS, options.requests); i++) {
    const before = childrenCpuMs();
    result.bare.push(await bareNode({ PATH: WEB_SERVER_PATH }));
    const between = childrenCpuMs();
    const r = await cgiRun(cgiEnv(i));
    const after = childrenCpuMs();
    if (r.ok) {
      result.walls.push(r.ms);
      for (const [name, ms] of Object.entries(r.timing)) (result.phases[name] ??= []).push(ms);
      if (result.cpu && before !== null && between !== null && after !== null) {
        result.cpu.bare += between - before;
        result.cpu.cgi += after - between;
        result.cpu.runs++;
      }
    }
    progress.show(`bare node -e '' and a CGI run, by turns: ${i + 1}…`);
  }
  for (const concurrency of [...new Set([1, options.concurrency])]) {
    const run = await drive(
      concurrency,
      options.requests,
      options.duration,
      (n) => cgiRun(cgiEnv(START_UP_PAIRS + n)),
      (done) => progress.show(`cgi (${concurrency}): ${done} requests…`),
    );
    result.modes.push(summarize('cgi', concurrency, run.latencies, run.errors, run.seconds));
  }
  return result;
}

/** The run as one result: what the tables print, --json saves and --report draws. */
function benchResult(options: BenchOptions, scratch: { url: string; version: string }, modes: ModeResult[], rss: number, cgi: CgiPhases): BenchResult {
  const fast = modes.find((m) => m.mode === 'fastcgi')!;
  const breakdown: Record<string, number> = {};
  for (const name of ['startup', 'load', 'connect', 'query', 'render']) if (cgi.phases[name]) breakdown[name] = median(cgi.phases[name]);
  const cpu = cpus();
  return {
    date: new Date().toISOString(),
    node: process.version,
    machine: { cpus: cpu.length, model: cpu[0]?.model.trim() ?? 'unknown', memoryGb: Math.round(totalmem() / 2 ** 30), os: `${platform()} ${release()}` },
    database: { kind: storeKind(scratch.url), version: scratch.version },
    rows: options.rows,
    urlsPerRequest: options.urls,
    modes,
    ratio: fast.rps / modes.find((m) => m.mode === 'cgi' && m.concurrency === options.concurrency)!.rps,
    fastcgiRssMb: rss,
    breakdown,
    cgiWallMs: median(cgi.walls),
    bareNodeMs: median(cgi.bare),
    ...(cgi.cpu && cgi.cpu.runs > 0 ? { cgiCpuMs: cgi.cpu.cgi / cgi.cpu.runs, bareNodeCpuMs: cgi.cpu.bare / cgi.cpu.runs } : {}),
  };
}

/** The tables on stdout. */
function report(result: BenchResult): void {
  const say = (line = '') => process.stdout.write(line + '\n');
  const { modes, breakdown } = result;
  const concurrency = modes.find((m) => m.mode === 'fastcgi')!.concurrency;
  say(`adrater bench: ${result.database.version}, ${result.rows} ratings, ${result.urlsPerRequest} URLs per request (${result.urlsPerRequest - 1} rated, 1 new), ${result.machine.cpus} CPUs, Node ${result.node}`);
  say();
  say(table(['mode', 'conc', 'requests', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'errors'], modes.map((m) => [m.mode, m.concurrency, m.requests, m.rps.toFixed(1), m.p50.toFixed(2), m.p90.toFixed(2), m.p99.toFixed(2), m.max.toFixed(2), m.errors])));
  say();
  say(`FastCGI / CGI throughput at concurrency ${concurrency}: ${result.ratio.toFixed(1)}x; FastCGI responder RSS after the run: ${result.fastcgiRssMb.toFixed(1)} MB`);
  say();
  const accounted = Object.values(breakdown).reduce((a, b) => a + b, 0);
  say("Where a CGI run spends its time (medians of runs taken by turns with bare node's, ms):");
  say(table(['phase', 'ms'], [
    ...Object.entries(breakdown).map(([name, ms]) => [name, ms.toFixed(2)]),
    ['spawn, exit, unmeasured', (result.cgiWallMs - accounted).toFixed(2)],
    ['wall (whole run)', result.cgiWallMs.toFixed(2)],
    ["bare node -e ''", result.bareNodeMs.toFixed(2)],
    ['wall / bare node', `${(result.cgiWallMs / result.bareNodeMs).toFixed(2)}x`],
    ...(result.cgiCpuMs !== undefined && result.bareNodeCpuMs ? [
      ['CPU (user + system), mean', result.cgiCpuMs.toFixed(2)],
      ["bare node's CPU, mean", result.bareNodeCpuMs.toFixed(2)],
      ['CPU / bare node', `${(result.cgiCpuMs / result.bareNodeCpuMs).toFixed(2)}x`],
    ] : []),
  ]));
}

/** A long FastCGI run: RSS after the first 100,000 requests and at the end (leak check). */
async function soak(env: Env, options: BenchOptions, progress: Progress) {
  const say = (line: string) => process.stdout.write(line + '\n');
  const samples: Array<[number, number]> = [];
  let next = 100_000;
  const { result, rss } = await fastcgiPhase(env, options, options.soak!, Number.MAX_SAFE_INTEGER, progress, (done, pid) => {
    if (done >= next) {
      samples.push([done, rssMb(pid)]);
      next += 100_000;
    }
  });
  progress.clear();
  samples.push([result.requests + result.errors, rss]);
  say(table(['requests', 'RSS MB'], samples.map(([n, mb]) => [n, mb.toFixed(1)])));
  const first = samples[0][1];
  say(`soak: ${result.requests} requests, ${result.errors} errors, ${result.rps.toFixed(0)} req/s; RSS ${first.toFixed(1)} MB after ${samples[0][0]} -> ${rss.toFixed(1)} MB at the end (${(((rss - first) / first) * 100).toFixed(1)}%)`);
  if (options.json) writeFileSync(options.json, JSON.stringify({ soak: samples, result }, null, 2) + '\n');
}
