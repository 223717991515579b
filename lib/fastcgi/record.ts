// FastCGI 1.0 records (the spec's section 3 and 8): an 8-byte header, content, padding.
// Bytes in, records out; no sockets here.
import { isAscii } from 'node:buffer';

const VERSION = 1;
const HEADER_LENGTH = 8;
const MAX_CONTENT = 0xffff;

export const Type = {
  BeginRequest: 1,
  AbortRequest: 2,
  EndRequest: 3,
  Params: 4,
  Stdin: 5,
  Stdout: 6,
  Stderr: 7,
  Data: 8,
  GetValues: 9,
  GetValuesResult: 10,
  UnknownType: 11,
} as const;

export const Role = {
  Responder: 1,
} as const;

export const ProtocolStatus = {
  RequestComplete: 0,
  CantMpxConn: 1,
  Overloaded: 2,
  UnknownRole: 3,
} as const;

export const FLAG_KEEP_CONN = 1;

export interface FcgiRecord {
  type: number;
  requestId: number;
  content: Buffer;
}

/** The peer broke the protocol: that connection is closed, nothing else. */
export class ProtocolError extends Error {
  name = 'ProtocolError';
}

/** Reassembles records from a byte stream split anywhere; `buffered()` is the part record held. */
export function recordReader() {
  let pending: Buffer = Buffer.alloc(0);
  return Object.assign(read, { buffered: () => pending.length });
  function* read(chunk: Buffer): Generator<FcgiRecord> {
    let buf = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let offset = 0;
    while (buf.length - offset >= HEADER_LENGTH) {
      const version = buf[offset];
      if (version !== VERSION) throw new ProtocolError(`record version ${version}, expected ${VERSION}`);
      const contentLength = buf.readUInt16BE(offset + 4);
      const total = HEADER_LENGTH + contentLength + buf[offset + 6];
      if (buf.length - offset < total) break;
      const start = offset + HEADER_LENGTH;
      yield {
        type: buf[offset + 1],
        requestId: buf.readUInt16BE(offset + 2),
        // A view, not a copy: a socket's chunks are fresh memory that Node never reuses, and
        // a part record is copied into `pending` below.
        content: buf.subarray(start, start + contentLength),
      };
      offset += total;
    }
    pending = offset === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(offset));
    buf = pending;
  }
}

function header(type: number, requestId: number, contentLength: number, padding: number): Buffer {
  const h = Buffer.alloc(HEADER_LENGTH);
  writeHeader(h, 0, type, requestId, contentLength, padding);
  return h;
}

/** One or more records carrying `content` (split at 65535 bytes, padded to 8). */
export function encodeStream(type: number, requestId: number, content: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let offset = 0; offset < content.length; offset += MAX_CONTENT) {
    const part = content.subarray(offset, offset + MAX_CONTENT);
    const padding = (8 - (part.length % 8)) % 8;
    out.push(header(type, requestId, part.length, padding), part);
    if (padding) out.push(Buffer.alloc(padding));
  }
  return out;
}

export function encodeRecord(type: number, requestId: number, content: Buffer = Buffer.alloc(0)): Buffer {
  const padding = (8 - (content.length % 8)) % 8;
  return Buffer.concat([header(type, requestId, content.length, padding), content, Buffer.alloc(padding)]);
}

/**
 * A whole response in one buffer: STDOUT records carrying `stdout`, the empty STDOUT that
 * ends the stream, and END_REQUEST. One allocation when `stdout` fits one record (nearly
 * every answer), so that one write sends it all.
 */
export function encodeResponse(requestId: number, stdout: Buffer, appStatus: number): Buffer {
  if (stdout.length === 0 || stdout.length > MAX_CONTENT) {
    return Buffer.concat([...encodeStream(Type.Stdout, requestId, stdout), encodeRecord(Type.Stdout, requestId), encodeEndRequest(requestId, appStatus, ProtocolStatus.RequestComplete)]);
  }
  const padding = (8 - (stdout.length % 8)) % 8;
  // From Node's pool, not zero-filled (Buffer.alloc made a new ArrayBuffer for every
  // response): every byte is written below, the padding and reserved bytes as zeros.
  const out = Buffer.allocUnsafe(HEADER_LENGTH + stdout.length + padding + HEADER_LENGTH + HEADER_LENGTH + 8);
  let at = writeHeader(out, 0, Type.Stdout, requestId, stdout.length, padding);
  at += stdout.copy(out, at);
  out.fill(0, at, at + padding);
  at = writeHeader(out, at + padding, Type.Stdout, requestId, 0, 0);
  at = writeHeader(out, at, Type.EndRequest, requestId, 8, 0);
  out.writeUInt32BE(appStatus >>> 0, at);
  out[at + 4] = ProtocolStatus.RequestComplete;
  out.fill(0, at + 5, at + 8);
  return out;
}

/** Writes a record header into `out` at `at`; returns where the content goes. */
function writeHeader(out: Buffer, at: number, type: number, requestId: number, contentLength: number, padding: number): number {
  out[at] = VERSION;
  out[at + 1] = type;
  out.writeUInt16BE(requestId, at + 2);
  out.writeUInt16BE(contentLength, at + 4);
  out[at + 6] = padding;
  out[at + 7] = 0;
  return at + HEADER_LENGTH;
}

export function encodeEndRequest(requestId: number, appStatus: number, protocolStatus: number): Buffer {
  const body = Buffer.alloc(8);
  body.writeUInt32BE(appStatus >>> 0, 0);
  body[4] = protocolStatus;
  return encodeRecord(Type.EndRequest, requestId, body);
}

/**
 * Name-value pairs (spec 3.4), each handed to `take`: lengths of 1 byte, or 4 with the high
 * bit set. A request's PARAMS (two dozen pairs from nginx) are nearly always ASCII: the
 * record becomes one string and each name and value a slice of it, since a call into
 * Buffer's decoder per string cost a responder ~5 µs per request. A 4-byte length (any value
 * of 128 bytes or more: a query string of a few URLs, REQUEST_URI with it) has its high bit
 * set, so such a record is not ASCII as a whole; only a name or value with a byte of 0x80 or
 * more among its own bytes is decoded as UTF-8 on its own.
 */
export function readPairs(content: Buffer, take: (name: string, value: string) => void): void {
  const text = content.toString('latin1');
  // Where the bytes of 0x80 and above are, in order (latin1 maps each byte to one character).
  const high = isAscii(content) ? NONE : highBytes(text);
  let h = 0;
  /** Whether bytes [start, end) hold one of 0x80 or above. */
  const nonAscii = (start: number, end: number) => {
    while (h < high.length && high[h] < start) h++;
    return h < high.length && high[h] < end;
  };
  let index = 0;
  let offset = 0;
  const length = () => {
    if (offset >= content.length) throw new ProtocolError('truncated name-value pair');
    if (content[offset] < 0x80) return content[offset++];
    if (offset + 4 > content.length) throw new ProtocolError('truncated name-value pair length');
    const n = content.readUInt32BE(offset) & 0x7fffffff;
    offset += 4;
    return n;
  };
  while (offset < content.length) {
    const nameLength = length();
    const valueLength = length();
    if (offset + nameLength + valueLength > content.length) throw new ProtocolError('name-value pair longer than its record');
    const nameEnd = offset + nameLength;
    const valueEnd = nameEnd + valueLength;
    const name = nonAscii(offset, nameEnd) ? content.toString('utf8', offset, nameEnd) : knownName(text, offset, nameLength, index);
    index++;
    take(name, nonAscii(nameEnd, valueEnd) ? content.toString('utf8', nameEnd, valueEnd) : text.slice(nameEnd, valueEnd));
    offset = valueEnd;
  }
}

const NONE: number[] = [];
const HIGH_BYTE = /[\x80-\xff]/g;

function highBytes(text: string): number[] {
  const at: number[] = [];
  HIGH_BYTE.lastIndex = 0;
  for (let m = HIGH_BYTE.exec(text); m !== null; m = HIGH_BYTE.exec(text)) at.push(m.index);
  return at;
}

// The ASCII names of the last record read, by position. A web server sends the same names in
// the same order with every request; a name found where it was last time is that string
// again, not a new one (a new string used as a property name must be hashed and interned).
const lastNames: string[] = [];
const MAX_KNOWN_NAMES = 64;

function knownName(text: string, offset: number, length: number, index: number): string {
  const known = lastNames[index];
  if (known !== undefined && known.length === length && text.startsWith(known, offset)) return known;
  const name = text.slice(offset, offset + length);
  if (index < MAX_KNOWN_NAMES) lastNames[index] = name;
  return name;
}

export function decodePairs(content: Buffer): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  readPairs(content, (name, value) => pairs.push([name, value]));
  return pairs;
}

export function encodePairs(pairs: Array<[string, string]>): Buffer {
  const parts: Buffer[] = [];
  const length = (n: number) => {
    if (n < 0x80) return Buffer.from([n]);
    const b = Buffer.alloc(4);
    b.writeUInt32BE((n | 0x80000000) >>> 0);
    return b;
  };
  for (const [name, value] of pairs) {
    const n = Buffer.from(name, 'utf8');
    const v = Buffer.from(value, 'utf8');
    parts.push(length(n.length), length(v.length), n, v);
  }
  return Buffer.concat(parts);
}
