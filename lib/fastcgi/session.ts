// One web-server connection, as the FastCGI spec's responder sees it: records in, a map of
// requests by id, events out (a request complete with its params and body, an abort), and
// records to send. No sockets: the server feeds it bytes and writes what it sends.
import {
  Type,
  Role,
  ProtocolStatus,
  FLAG_KEEP_CONN,
  ProtocolError,
  recordReader,
  encodeRecord,
  encodeEndRequest,
  encodeResponse,
  decodePairs,
  readPairs,
  encodePairs,
} from './record.js';
import type { FcgiRecord } from './record.js';

export interface FcgiRequest {
  id: number;
  params: { [name: string]: string };
  /** The body, up to maxStdin bytes; past that it is counted and discarded. */
  stdin: Buffer;
  stdinOverflow: boolean;
  keepConn: boolean;
}

export interface SessionOptions {
  maxParamsBytes: number;
  maxStdin: number;
  /** Answers to FCGI_GET_VALUES, by variable name. */
  values: { [name: string]: string };
  send(bytes: Buffer): void;
  onRequest(request: FcgiRequest): void;
  onAbort(id: number): void;
}

interface Pending {
  keepConn: boolean;
  params: Buffer[];
  paramsBytes: number;
  paramsDone: boolean;
  env?: { [name: string]: string };
  stdin: Buffer[];
  stdinBytes: number;
  overflow: boolean;
}

// What a request still being received costs beyond its bytes (its entry, its buffers).
const PENDING_OVERHEAD = 512;

export function createSession(options: SessionOptions) {
  const read = recordReader();
  const pending = new Map<number, Pending>(); // still receiving PARAMS / STDIN
  const active = new Set<number>(); // complete, being answered
  let pendingBytes = 0; // params and body bytes held for the requests in `pending`

  function handle(record: FcgiRecord): void {
    const { type, requestId: id, content } = record;
    if (id === 0) return handleManagement(record);
    switch (type) {
      case Type.BeginRequest: {
        if (content.length !== 8) throw new ProtocolError(`BEGIN_REQUEST of ${content.length} bytes`);
        if (pending.has(id) || active.has(id)) throw new ProtocolError(`request id ${id} is already in flight`);
        const role = content.readUInt16BE(0);
        if (role !== Role.Responder) {
          options.send(encodeEndRequest(id, 0, ProtocolStatus.UnknownRole));
          return;
        }
        pending.set(id, {
          keepConn: (content[2] & FLAG_KEEP_CONN) !== 0,
          params: [],
          paramsBytes: 0,
          paramsDone: false,
          stdin: [],
          stdinBytes: 0,
          overflow: false,
        });
        return;
      }
      case Type.Params: {
        const request = pending.get(id);
        if (!request || request.paramsDone) return; // the spec: ignore records of inactive ids
        if (content.length === 0) {
          request.paramsDone = true;
          request.env = paramsEnv(request.params.length === 1 ? request.params[0] : Buffer.concat(request.params));
          request.params = [];
          return;
        }
        request.paramsBytes += content.length;
        pendingBytes += content.length;
        if (request.paramsBytes > options.maxParamsBytes) {
          throw new ProtocolError(`params of request ${id} over ${options.maxParamsBytes} bytes`);
        }
        request.params.push(content);
        return;
      }
      case Type.Stdin: {
        const request = pending.get(id);
        if (!request) return;
        if (content.length === 0) {
          if (!request.paramsDone) throw new ProtocolError(`request ${id} ended STDIN before its PARAMS`);
          forget(id);
          active.add(id);
          options.onRequest({
            id,
            params: request.env!,
            stdin: Buffer.concat(request.stdin),
            stdinOverflow: request.overflow,
            keepConn: request.keepConn,
          });
          return;
        }
        request.stdinBytes += content.length;
        if (request.stdinBytes > options.maxStdin) {
          if (!request.overflow) pendingBytes -= request.stdinBytes - content.length;
          request.overflow = true;
          request.stdin = [];
        } else {
          request.stdin.push(content);
          pendingBytes += content.length;
        }
        return;
      }
      case Type.AbortRequest: {
        // The request ends now; an answer still being computed is dropped by respond().
        const wasActive = active.delete(id);
        if (forget(id) || wasActive) options.send(encodeEndRequest(id, 0, ProtocolStatus.RequestComplete));
        if (wasActive) options.onAbort(id);
        return;
      }
      case Type.Data:
        return; // only the filter role reads FCGI_DATA
      default:
        options.send(unknownType(type));
    }
  }

  /** Drops a request from `pending` and its bytes from the count; false if it was not there. */
  function forget(id: number): boolean {
    const request = pending.get(id);
    if (!request) return false;
    pendingBytes -= request.paramsBytes + (request.overflow ? 0 : request.stdinBytes);
    return pending.delete(id);
  }

  function handleManagement(record: FcgiRecord): void {
    if (record.type !== Type.GetValues) {
      options.send(unknownType(record.type));
      return;
    }
    const asked = decodePairs(record.content);
    const known = asked.filter(([name]) => name in options.values).map(([name]): [string, string] => [name, options.values[name]]);
    options.send(encodeRecord(Type.GetValuesResult, 0, encodePairs(known)));
  }

  return {
    /** Feeds bytes from the peer; throws ProtocolError on a malformed stream. */
    feed(chunk: Buffer): void {
      for (const record of read(chunk)) handle(record);
    },

    /** Sends a response (CGI-style headers and body) and ends the request. */
    respond(id: number, stdout: Buffer, appStatus = 0): void {
      if (!active.delete(id)) return; // aborted meanwhile
      options.send(encodeResponse(id, stdout, appStatus));
    },

    /** Requests received in part or in full and not yet answered. */
    inFlight(): number {
      return pending.size + active.size;
    },

    /** Inside a record or a request not yet complete: the peer owes us bytes. */
    midRequest(): boolean {
      return read.buffered() > 0 || pending.size > 0;
    },

    /** Memory held for what the peer has not finished sending: part record, params, bodies. */
    buffered(): number {
      return read.buffered() + pendingBytes + pending.size * PENDING_OVERHEAD;
    },
  };
}

/** A request's PARAMS as its environment; a repeated name keeps its last value, as the CGI environment it stands for would. */
function paramsEnv(content: Buffer): { [name: string]: string } {
  // A plain object filled in the web server's (fixed) order keeps one V8 shape for every
  // request: Object.fromEntries made each one slow to build (~9 µs for nginx's 19 pairs).
  const env: { [name: string]: string } = {};
  readPairs(content, (name, value) => {
    if (name === '__proto__') Object.defineProperty(env, name, { value, enumerable: true, writable: true, configurable: true });
    else env[name] = value;
  });
  return env;
}

function unknownType(type: number): Buffer {
  const body = Buffer.alloc(8);
  body[0] = type;
  return encodeRecord(Type.UnknownType, 0, body);
}
