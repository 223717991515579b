// The errors that cross module boundaries, each classified once where it enters. One module
// in every build: the bundles share it (lib/build/build.mjs), so `instanceof` holds anywhere.

/** The database cannot be reached (or refused us): a look-up gets 503, a command exit 1. */
export class UnavailableError extends Error {
  name = 'UnavailableError';
}

/** A setting that cannot be used: exit 2 from the command line, 500 under a web server. */
export class SettingsError extends Error {
  name = 'SettingsError';
}

/**
 * The database is not one adrater can use: a table not there (`db init` never run against
 * it), a column not there (a table adrater did not make), an SQLite file that is damaged or
 * no SQLite file at all. The operator's to mend, as a bad setting is: 500 under a web
 * server, its line naming the fix, without a stack; exit 1 from a command.
 */
export class DatabaseError extends Error {
  name = 'DatabaseError';
}

/** The command line itself is wrong: exit 2, with a pointer to --help. */
export class UsageError extends Error {
  name = 'UsageError';
}

/** A command cannot do what was asked, for a reason the user can fix: one line, exit 1. */
export class CommandError extends Error {
  name = 'CommandError';
}

/**
 * A request's client went away (FCGI_ABORT_REQUEST). A plain flag rather than an
 * AbortController, which a responder would make for every request it takes; an AbortSignal
 * fits it too.
 */
export interface AbortFlag {
  readonly aborted: boolean;
}

/** Work skipped because its request was aborted. */
export class AbortedError extends Error {
  name = 'AbortedError';
}

export function throwIfAborted(flag: AbortFlag | undefined): void {
  if (flag?.aborted) throw new AbortedError('the client went away');
}
