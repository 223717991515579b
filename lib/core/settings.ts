// Settings from, in order of precedence: command line, environment (ADRATER_DB and
// ADRATER_<OPTION>), the JSON file named by ADRATER_CONFIG, then defaults. The file lets a
// password stay out of argv and out of the web server's configuration.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SettingsError } from './errors.js';
import { storeKind } from '../store/open.js';

export interface Settings {
  db: string;
  /** Where look-ups read from (a replica, the nearest cluster node); --db when unset or unreachable. */
  dbRead?: string;
  maxUrls: number;
  maxBody: number;
  retryAfter: number;
  listen?: string;
  maxRequests: number;
  maxReqs: number;
  poolSize: number;
  readTimeout: number;
  backlog: number;
  /** FastCGI workers under a supervisor; 1 (the default) is one process, no supervisor; 0 is one per CPU. */
  workers: number;
  /** The URL path that answers with the responder's status; none by default. */
  statusPath?: string;
  /** Comma-separated REMOTE_ADDRs allowed to read the status. */
  statusAllow: string;
  /** Requests slower than this many ms get a log line with their phases; 0 is off. */
  slowMs: number;
}

/** The checkout (or install) root: lib/<layer>/ in the sources, dist/lib/ when built. */
const PROJECT_ROOT = join(import.meta.dirname, '..', '..');

export const DEFAULTS: Readonly<Settings> = {
  db: 'sqlite:' + join(PROJECT_ROOT, 'var', 'adrater.sqlite'),
  maxUrls: 100,
  maxBody: 64 * 1024,
  retryAfter: 5,
  maxRequests: 0,
  maxReqs: 256,
  poolSize: 4,
  readTimeout: 30,
  backlog: 511,
  workers: 1,
  statusAllow: '127.0.0.1,::1',
  slowMs: 0,
};

const NUMERIC = new Set<keyof Settings>(['maxUrls', 'maxBody', 'retryAfter', 'maxRequests', 'maxReqs', 'poolSize', 'readTimeout', 'backlog', 'workers', 'slowMs']);
const KEYS = Object.keys(DEFAULTS).concat('listen', 'statusPath', 'dbRead') as Array<keyof Settings>;

function envName(key: string): string {
  return 'ADRATER_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();
}

function coerce(key: keyof Settings, value: unknown, origin: string): string | number {
  if (NUMERIC.has(key)) {
    const n = typeof value === 'number' ? value : /^\d+$/.test(String(value).trim()) ? Number(String(value).trim()) : NaN;
    if (!Number.isSafeInteger(n) || n < 0) throw new SettingsError(`${origin}: ${key} must be a whole number`);
    return n;
  }
  if (typeof value !== 'string' || value === '') throw new SettingsError(`${origin}: ${key} must be a non-empty string`);
  return value;
}

function readConfigFile(path: string, warn: (line: string) => void): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
    if (statSync(path).mode & 0o004) warn(`config file ${path} is readable by other users; chmod o-r it`);
  } catch (err) {
    throw new SettingsError(`cannot read ADRATER_CONFIG file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new SettingsError(`ADRATER_CONFIG file ${path} is not valid JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SettingsError(`ADRATER_CONFIG file ${path} must hold a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

/** `cli`: the parsed command line (camelCase keys; anything not a setting is ignored). */
export function loadSettings(
  cli: Record<string, unknown>,
  env: Record<string, string | undefined>,
  warn: (line: string) => void,
): Settings {
  const file = env.ADRATER_CONFIG ? readConfigFile(env.ADRATER_CONFIG, warn) : {};
  for (const key of Object.keys(file)) {
    if (!KEYS.includes(key as keyof Settings)) warn(`ADRATER_CONFIG: unknown setting "${key}" ignored`);
  }
  const settings: Record<string, unknown> = { ...DEFAULTS };
  for (const key of KEYS) {
    const fromCli = cli[key];
    const fromEnv = env[envName(key)];
    if (fromCli !== undefined) settings[key] = coerce(key, fromCli, 'command line');
    else if (fromEnv !== undefined && fromEnv !== '') settings[key] = coerce(key, fromEnv, envName(key));
    else if (file[key] !== undefined) settings[key] = coerce(key, file[key], 'ADRATER_CONFIG');
  }
  // A URL that cannot be used is a settings error, found before any request.
  const kind = storeKind(String(settings.db));
  if (settings.dbRead !== undefined && (kind !== 'mysql' || storeKind(String(settings.dbRead)) !== 'mysql')) {
    throw new SettingsError('dbRead (--db-read) needs a mysql:// --db and a mysql:// read URL');
  }
  return settings as unknown as Settings;
}

/**
 * The settings given on a command line, as the environment variables that carry them: how a
 * supervisor passes its command line to its workers (never in their argv, where a password
 * would show). `listen` and `workers` stay the supervisor's own.
 */
export function settingsEnvironment(cli: Record<string, unknown>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of KEYS) {
    if (key !== 'listen' && key !== 'workers' && cli[key] !== undefined) env[envName(key)] = String(cli[key]);
  }
  return env;
}
