import { request } from 'node:http';
import { connect } from 'node:http2';

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request; a reset or a half response rejects (that is what the tests look for). */
export function http(
  port: number,
  path: string,
  options: { method?: string; body?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d) => chunks.push(d));
        res.on('error', reject);
        res.on('end', () => {
          if (!res.complete) return reject(new Error('response cut short'));
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
        });
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * One POST over HTTP/2 in clear text (prior knowledge, as `curl --http2-prior-knowledge`),
 * its body sent as a stream with no content-length: what a client streaming its body sends.
 */
export function http2Post(port: number, path: string, body: string, type: string): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const session = connect(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    const stream = session.request({ ':method': 'POST', ':path': path, 'content-type': type });
    const chunks: Buffer[] = [];
    let headers: Record<string, string | string[] | undefined> = {};
    stream.on('response', (h) => (headers = h));
    stream.on('data', (d) => chunks.push(d));
    stream.on('error', reject);
    stream.on('end', () => {
      session.close();
      resolve({ status: Number(headers[':status']), headers, body: Buffer.concat(chunks).toString('utf8') });
    });
    stream.write(body.slice(0, 5));
    stream.end(body.slice(5));
  });
}
