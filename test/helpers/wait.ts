// Waiting in tests for something another process does: a pause, and a poll that gives up
// with a clear message instead of hanging until tap's timeout.

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resolves once `check` holds; throws "timed out waiting for `what`" after `ms`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  for (const stop = Date.now() + ms; !(await check()); await sleep(25)) if (Date.now() > stop) throw new Error(`timed out waiting for ${what}`);
}
