// A response as a CGI script writes it on stdout, and as a FastCGI responder writes it in
// its STDOUT stream: Status, headers, a blank line, the body (none for HEAD).
import type { Response } from '../core/handler.js';

const REASONS: Record<number, string> = {
  200: 'OK',
  400: 'Bad Request',
  403: 'Forbidden',
  405: 'Method Not Allowed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Status, headers and the blank line: ASCII, so as many bytes as characters. */
export function responseHead(response: Response, bodyLength: number): string {
  let head = `Status: ${response.status} ${REASONS[response.status] ?? ''}\r\n`;
  for (const [name, value] of response.headers) head += `${name}: ${value}\r\n`;
  return `${head}Content-Length: ${bodyLength}\r\n\r\n`;
}

export function responseBytes(response: Response): Buffer {
  const bodyLength = Buffer.byteLength(response.body, 'utf8');
  const head = responseHead(response, bodyLength);
  // One allocation: this runs for every answer a responder gives.
  const out = Buffer.allocUnsafe(head.length + (response.head ? 0 : bodyLength));
  out.write(head, 0, 'latin1');
  if (!response.head) out.write(response.body, head.length, 'utf8');
  return out;
}
