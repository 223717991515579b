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

/** The command line itself is wrong: exit 2, with a pointer to --help. */
export class UsageError extends Error {
  name = 'UsageError';
}

/** A command cannot do what was asked, for a reason the user can fix: one line, exit 1. */
export class CommandError extends Error {
  name = 'CommandError';
}
