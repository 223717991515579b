// The status of a responder (CONTRACT §7, "Status"): its counters, summed over the workers
// when there are several, as JSON or as Prometheus text. It touches no database: whether
// the database was reachable is what the last request that used it found, and which listed
// server is in use is what the process's pools know.
import type { DatabaseInUse } from '../store/store.js';

/** What one process counts. */
export interface Counters {
  pid: number;
  /** Seconds since the process started. */
  uptime: number;
  /** Look-up requests answered (status requests are not counted). */
  requests: number;
  inFlight: number;
  connections: number;
  /** 503 busy answers (more than --max-reqs in flight). */
  busy: number;
  /** 500 answers. */
  errors: number;
  /** Whether the database answered the last request that used it; null before any did. */
  databaseReachable: boolean | null;
  /** The listed MySQL server in use and its moves (with --db-read, the read side's too); absent on SQLite. */
  database?: DatabaseInUse;
}

export interface Status extends Omit<Counters, 'pid' | 'database'> {
  /** The supervisor's pid, or the single responder's. */
  pid: number;
  /** Moves from one listed database server to another (lost, left, returned to), every worker's and side's. */
  databaseMoves: number;
  workers: number;
  /** Each worker's own counters (one entry without a supervisor). */
  perWorker: Counters[];
}

/** The counters of several processes as one status; `pid` and `uptime` are the supervisor's. */
export function sumStatus(pid: number, uptime: number, workers: Counters[]): Status {
  const sum = (key: 'requests' | 'inFlight' | 'connections' | 'busy' | 'errors') => workers.reduce((total, w) => total + w[key], 0);
  const known = workers.filter((w) => w.databaseReachable !== null);
  return {
    pid,
    uptime,
    requests: sum('requests'),
    inFlight: sum('inFlight'),
    connections: sum('connections'),
    busy: sum('busy'),
    errors: sum('errors'),
    databaseReachable: known.length === 0 ? null : known.every((w) => w.databaseReachable),
    databaseMoves: workers.reduce((total, w) => total + (w.database?.moves ?? 0) + (w.database?.read?.moves ?? 0), 0),
    workers: workers.length,
    perWorker: workers,
  };
}

/** The path a request asked for: REQUEST_URI without its query, else SCRIPT_NAME and PATH_INFO. */
export function requestPath(params: Record<string, string | undefined>): string {
  if (params.REQUEST_URI) return params.REQUEST_URI.split('?')[0];
  return (params.SCRIPT_NAME ?? '') + (params.PATH_INFO ?? '');
}

/** A label value as the exposition format writes it: backslash, double quote and newline escaped (a socket path may hold any). */
const labelValue = (value: string) => value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));

/** Prometheus text exposition (format 0.0.4). */
export function prometheusText(status: Status): string {
  const lines: string[] = [];
  const metric = (name: string, type: 'counter' | 'gauge', help: string, value: number | null, labels = '') => {
    if (value === null) return;
    if (!labels) lines.push(`# HELP adrater_${name} ${help}`, `# TYPE adrater_${name} ${type}`);
    lines.push(`adrater_${name}${labels} ${value}`);
  };
  metric('requests_total', 'counter', 'Look-up requests answered.', status.requests);
  metric('in_flight', 'gauge', 'Requests being answered.', status.inFlight);
  metric('connections', 'gauge', 'Open web-server connections.', status.connections);
  metric('busy_total', 'counter', 'Requests refused with 503 busy.', status.busy);
  metric('errors_total', 'counter', 'Requests answered with 500.', status.errors);
  metric('workers', 'gauge', 'Worker processes.', status.workers);
  metric('uptime_seconds', 'gauge', 'Seconds since the responder started.', Math.round(status.uptime));
  metric('database_reachable', 'gauge', 'Whether the last request that used the database reached it.', status.databaseReachable === null ? null : Number(status.databaseReachable));
  metric('database_moves_total', 'counter', 'Moves from one listed database server to another.', status.databaseMoves);
  lines.push('# HELP adrater_worker_requests_total Look-up requests answered, per worker.', '# TYPE adrater_worker_requests_total counter');
  for (const w of status.perWorker) lines.push(`adrater_worker_requests_total{pid="${w.pid}"} ${w.requests}`);
  const inUse = status.perWorker.flatMap((w) => {
    const sides = w.database ? [['write', w.database.server]] : [];
    if (w.database?.read) sides.push(['read', w.database.read.server]);
    return sides.map(([side, server]) => `adrater_worker_database_server{pid="${w.pid}",side="${side}",server="${labelValue(server)}"} 1`);
  });
  if (inUse.length > 0) lines.push('# HELP adrater_worker_database_server The listed database server each worker uses, per side (write: --db; read: --db-read).', '# TYPE adrater_worker_database_server gauge', ...inUse);
  return lines.join('\n') + '\n';
}
