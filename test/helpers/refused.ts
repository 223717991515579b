// A database that refuses adrater (an account, a host, a limit, a failing init_connect, a
// full disk, a file it may not write): the answer the contract gives for a database not
// there for us now, from a CGI run and from a responder alike.
import type { Test } from 'tap';
import { cgi } from './run.js';
import type { CgiAnswer } from './run.js';
import { answerOnce, getParams, startResponder } from './fcgi.js';
import { errorOf } from './xml.js';

/** One answer refused: 503, Retry-After, code `unavailable`; `log` (where its line went) holds no stack and no 500. */
export function unavailable(t: Test, answer: { status: number; headers: Record<string, string>; body: string }, log: string, who = 'the answer'): void {
  t.equal(answer.status, 503, `${who}: 503`);
  t.equal(answer.headers['retry-after'], '5');
  t.equal(errorOf(answer.body).code, 'unavailable');
  t.notMatch(log, /\s+at\s|500 internal/, 'no stack, no 500 in the log');
}

/** A CGI run (`cgiRun`; by default one as this process's user) and a responder each refused by the server, `reason` in each log. */
export async function refusedBoth(t: Test, url: string, reason: RegExp, cgiRun: () => Promise<CgiAnswer> | CgiAnswer = () => cgi(url, { query: 'url=a.example' })): Promise<void> {
  const run = await cgiRun();
  unavailable(t, run, run.stderr, 'a CGI run');
  t.match(run.stderr, reason, "the reason in the CGI run's log line");
  const responder = await startResponder({ db: url });
  const answer = await answerOnce(responder.port!, getParams('url=a.example'));
  await responder.stop();
  unavailable(t, answer, responder.stderr(), 'a responder');
  t.match(responder.stderr(), reason, "the reason in the responder's log line");
}
