// Load from FastCGI clients for the drills: each worker keeps one connection and sends
// requests back to back until told to stop, recording what each request got.
import { connectFcgi } from '../../lib/fastcgi/client.js';
import type { FcgiClient } from '../../lib/fastcgi/client.js';
import { parseCgi } from './run.js';

export interface Outcome {
  n: number;
  status: number | 'closed' | 'truncated';
  ms: number;
  at: number;
  domain: string;
}

export function startLoad(port: number, workers: number, query: (n: number) => { q: string; domain: string }) {
  const outcomes: Outcome[] = [];
  let stopped = false;
  let seq = 0;
  const started = performance.now();
  const done = Promise.all(
    Array.from({ length: workers }, async () => {
      let client: FcgiClient | null = null;
      while (!stopped) {
        try {
          client ??= await connectFcgi({ host: '127.0.0.1', port });
        } catch {
          await new Promise((r) => setTimeout(r, 20));
          continue;
        }
        const n = seq++;
        const { q, domain } = query(n);
        const t0 = performance.now();
        try {
          const answer = await client.request({ REQUEST_METHOD: 'GET', QUERY_STRING: q, REMOTE_ADDR: '127.0.0.1' });
          let status: Outcome['status'];
          try {
            status = parseCgi(answer.stdout).status;
          } catch {
            status = 'truncated';
          }
          outcomes.push({ n, status, ms: performance.now() - t0, at: t0 - started, domain });
        } catch {
          outcomes.push({ n, status: 'closed', ms: performance.now() - t0, at: t0 - started, domain });
          client = null;
        }
      }
      client?.close();
    }),
  );
  return {
    outcomes,
    async stop() {
      stopped = true;
      await done;
      return outcomes;
    },
  };
}

export function countBy(outcomes: Outcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of outcomes) counts[o.status] = (counts[o.status] ?? 0) + 1;
  return counts;
}
