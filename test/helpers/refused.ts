// A database that refuses adrater (an account, a host, a limit, a failing init_connect): the
// same answer from a CGI run and from a responder.
import type { Test } from 'tap';
import { cgi } from './run.js';
import type { CgiAnswer } from './run.js';
import { answerOnce, getParams, startResponder } from './fcgi.js';
import { errorOf } from './xml.js';

/** A CGI run (`cgiRun`; by default one as this process's user) and a responder each refused by the server: 503, Retry-After, `reason` in its log, no stack. */
export async function refusedBoth(t: Test, url: string, reason: RegExp, cgiRun: () => Promise<CgiAnswer> | CgiAnswer = () => cgi(url, { query: 'url=a.example' })): Promise<void> {
  const run = await cgiRun();
  t.equal(run.status, 503, 'a CGI run 503');
  t.equal(run.headers['retry-after'], '5');
  t.equal(errorOf(run.body).code, 'unavailable');
  t.match(run.stderr, reason, "the reason in the CGI run's log line");
  t.notMatch(run.stderr, /\s+at\s/, 'no stack');
  const responder = await startResponder({ db: url });
  const answer = await answerOnce(responder.port!, getParams('url=a.example'));
  await responder.stop();
  t.equal(answer.status, 503, 'a responder 503');
  t.equal(answer.headers['retry-after'], '5');
  t.match(responder.stderr(), reason, "the reason in the responder's log line");
  t.notMatch(responder.stderr(), /\s+at\s|500 internal/, 'no stack, no 500');
}
