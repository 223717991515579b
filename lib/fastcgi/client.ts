// A FastCGI client (the web server's side): used by `adrater bench` to drive a responder
// over real sockets, and by the tests. Requests may be multiplexed on one connection.
import { connect } from 'node:net';
import type { Socket, NetConnectOpts } from 'node:net';
import { Type, Role, FLAG_KEEP_CONN, recordReader, encodeRecord, encodeStream, encodePairs } from './record.js';
import type { FcgiRecord } from './record.js';

export interface FcgiAnswer {
  stdout: Buffer;
  stderr: Buffer;
  appStatus: number;
  protocolStatus: number;
}

interface Waiting {
  stdout: Buffer[];
  stderr: Buffer[];
  resolve(answer: FcgiAnswer): void;
  reject(err: Error): void;
}

export interface FcgiClient {
  socket: Socket;
  /** Sends one request (BEGIN, PARAMS, STDIN) and resolves with its END_REQUEST. */
  request(params: Record<string, string>, stdin?: Buffer, options?: { keepConn?: boolean; id?: number }): Promise<FcgiAnswer>;
  /** Management records and anything else the server sent on request id 0, in order. */
  management: FcgiRecord[];
  close(): void;
}

/** The bytes of one request, for tests that want to split or mangle them. */
export function encodeRequest(id: number, params: Record<string, string>, stdin: Buffer = Buffer.alloc(0), keepConn = true): Buffer {
  const begin = Buffer.alloc(8);
  begin.writeUInt16BE(Role.Responder, 0);
  begin[2] = keepConn ? FLAG_KEEP_CONN : 0;
  return Buffer.concat([
    encodeRecord(Type.BeginRequest, id, begin),
    ...encodeStream(Type.Params, id, encodePairs(Object.entries(params))),
    encodeRecord(Type.Params, id),
    ...encodeStream(Type.Stdin, id, stdin),
    encodeRecord(Type.Stdin, id),
  ]);
}

export function connectFcgi(address: NetConnectOpts): Promise<FcgiClient> {
  return new Promise((resolve, reject) => {
    const socket = connect(address);
    const waiting = new Map<number, Waiting>();
    const management: FcgiRecord[] = [];
    const read = recordReader();
    let nextId = 1;
    const failAll = (err: Error) => {
      for (const w of waiting.values()) w.reject(err);
      waiting.clear();
    };
    socket.on('data', (chunk: Buffer) => {
      for (const record of read(chunk)) {
        const w = waiting.get(record.requestId);
        if (record.requestId === 0 || !w) {
          management.push(record);
        } else if (record.type === Type.Stdout) {
          w.stdout.push(record.content);
        } else if (record.type === Type.Stderr) {
          w.stderr.push(record.content);
        } else if (record.type === Type.EndRequest) {
          waiting.delete(record.requestId);
          w.resolve({
            stdout: Buffer.concat(w.stdout),
            stderr: Buffer.concat(w.stderr),
            appStatus: record.content.readUInt32BE(0),
            protocolStatus: record.content[4],
          });
        }
      }
    });
    socket.on('error', (err) => {
      failAll(err);
      reject(err);
    });
    socket.on('close', () => failAll(new Error('connection closed before the request ended')));
    socket.on('connect', () =>
      resolve({
        socket,
        management,
        request(params, stdin, options = {}) {
          const id = options.id ?? nextId++;
          if (nextId > 0xffff) nextId = 1;
          return new Promise<FcgiAnswer>((res, rej) => {
            waiting.set(id, { stdout: [], stderr: [], resolve: res, reject: rej });
            socket.write(encodeRequest(id, params, stdin, options.keepConn ?? true));
          });
        },
        close() {
          socket.end();
        },
      }),
    );
  });
}

