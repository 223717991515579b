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

export function responseBytes(response: Response): Buffer {
  const body = Buffer.from(response.body, 'utf8');
  let head = `Status: ${response.status} ${REASONS[response.status] ?? ''}\r\n`;
  for (const [name, value] of response.headers) head += `${name}: ${value}\r\n`;
  head += `Content-Length: ${body.length}\r\n\r\n`;
  return response.head ? Buffer.from(head, 'latin1') : Buffer.concat([Buffer.from(head, 'latin1'), body]);
}
