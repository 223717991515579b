// A FastCGI responder of the real bin for a test: the same starter bench uses, with the
// test's database and, by default, a free TCP port.
import { startResponder as start } from '../../lib/bench/responder.js';
import type { Responder } from '../../lib/bench/responder.js';

export type { Responder };

export function startResponder(options: { db: string; path?: string; args?: string[]; env?: Record<string, string>; nodeFlags?: string[]; launcher?: string[] }): Promise<Responder> {
  const { db, env, ...rest } = options;
  return start({ env: { ADRATER_DB: db, ...env }, ...rest });
}
