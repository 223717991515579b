// Numbers for bench: percentiles, a run's summary, Server-Timing parsing, a plain table.

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
  /** [percentile, ms] at PERCENTILE_POINTS: the latency distribution. */
  percentiles: Array<[number, number]>;
}

export const PERCENTILE_POINTS = [1, 5, 10, 25, 50, 75, 90, 95, 99, 99.9, 100];

/** One `adrater bench` run as `--json` saves it and `bench report` reads it. */
export interface BenchResult {
  date: string;
  node: string;
  machine: { cpus: number; model: string; memoryGb: number; os: string };
  database: { kind: 'sqlite' | 'mysql'; version: string };
  rows: number;
  urlsPerRequest: number;
  modes: ModeResult[];
  /** FastCGI's requests/s over CGI's at the same concurrency. */
  ratio: number;
  fastcgiRssMb: number;
  /** Median ms of each Server-Timing phase of the CGI runs taken by turns with bare node's. */
  breakdown: Record<string, number>;
  cgiWallMs: number;
  bareNodeMs: number;
  /** Mean CPU ms (user + system) of those runs and of bare node's; absent where /proc is not. */
  cgiCpuMs?: number;
  bareNodeCpuMs?: number;
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
    percentiles: PERCENTILE_POINTS.map((p): [number, number] => [p, percentile(sorted, p)]),
  };
}

export function table(head: string[], rows: Array<Array<string | number>>): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  return cells.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')).join('\n');
}
