// The byte stream under a CGI run's MySQL client (lib/store/mysql-wire.ts): a connection to
// an IP address or a Unix socket, bytes in, bytes out, close.
//
// Where it can, it drives libuv's stream handles itself, as node:net does underneath, and
// loads none of node:net: in a cold process, net's module, its socket's streams and the
// first connect through them cost a CGI run ~7 ms of CPU (a script that connects to MariaDB
// and reads its greeting: 45.2 ms against bare node's 37.5; through the handle, 37.5). The
// handles are Node's internal bindings (process.binding, a documentation-only deprecation,
// DEP0111), so their shape is checked before use. The handle connects to an address: a host
// name goes through it only when the hosts file answers for it (lib/store/hosts-file.ts),
// each address the file lists tried in turn until one connects: the next one at once when an
// address refuses, and after ATTEMPT_MS when it does not answer at all. Any other shape, any
// other host name (the resolver is net's), or a `prefer` of 'net' uses node:net.
import type { Socket } from 'node:net';
import { getSystemErrorName } from 'node:util';
import { hostsFileAddresses, IPV4, SYSTEM_HOSTS_FILES } from './hosts-file.js';
import type { HostsFiles } from './hosts-file.js';

export interface WireSocketEvents {
  /** The connection is made: what comes later is the server's. */
  connect(): void;
  data(chunk: Buffer): void;
  /** The connection failed: code as node:net would name it (ECONNREFUSED …). Then close(). */
  error(code: string, message: string, errno?: number): void;
  close(): void;
}

export interface WireSocket {
  readonly kind: 'handle' | 'net';
  readonly destroyed: boolean;
  /** `written` once the kernel has the bytes. */
  write(bytes: Buffer, written?: () => void): void;
  destroy(): void;
  /** The process may exit with this connection open. */
  unref(): void;
}

export type WireTarget = { host: string; port: number } | { path: string };

const ignore = () => {};

export async function openWireSocket(
  target: WireTarget,
  events: WireSocketEvents,
  prefer: 'handle' | 'net' = 'handle',
  hostsFiles: HostsFiles = SYSTEM_HOSTS_FILES,
): Promise<WireSocket> {
  const handles = prefer === 'handle' ? libuvHandles() : null;
  // Only arguments of the types the handle's C++ checks (a wrong one aborts the process).
  const typed = 'path' in target ? typeof target.path === 'string' : Number.isInteger(target.port) && target.port >= 0 && target.port <= 65535;
  if (handles && typed) {
    if ('path' in target) return handleSocket(handles, target, events);
    const addresses = isAddress(target.host) ? [target.host] : hostsFileAddresses(target.host, hostsFiles);
    if (addresses) return handleSocket(handles, { ...target, addresses }, events);
  }
  return netSocket(await import('node:net'), target, events);
}

const isAddress = (host: string) => IPV4.test(host) || host.includes(':');

// ---- Node's stream handles -------------------------------------------------------------

interface Req {
  oncomplete: (status: number) => void;
  address?: string;
  port?: number;
  handle?: unknown;
  buffer?: Buffer;
}
interface Handle {
  connect(req: Req, address: string, port?: number): number;
  connect6(req: Req, address: string, port: number): number;
  readStart(): number;
  writeBuffer(req: Req, data: Buffer): number;
  close(callback?: () => void): void;
  unref(): void;
  setNoDelay?(on: boolean): number;
  onread: (arrayBuffer: ArrayBuffer | undefined) => void;
}
interface Handles {
  tcp: () => Handle;
  pipe: () => Handle;
  tcpConnect: () => Req;
  pipeConnect: () => Req;
  write: () => Req;
  state: Int32Array;
  kReadBytesOrError: number;
  kArrayBufferOffset: number;
  kLastWriteWasAsync: number;
  errorName: (status: number) => string;
}

let checked: Handles | null | undefined;

/** Node's TCP, Pipe and WriteWrap bindings, if they have the shape this module drives; else null. */
function libuvHandles(): Handles | null {
  if (checked !== undefined) return checked;
  checked = null;
  try {
    const binding = (process as unknown as { binding(name: string): Record<string, unknown> }).binding;
    const tcp = binding('tcp_wrap') as { TCP?: new (type: number) => Handle; TCPConnectWrap?: new () => Req; constants?: { SOCKET?: number } };
    const pipe = binding('pipe_wrap') as { Pipe?: new (type: number) => Handle; PipeConnectWrap?: new () => Req; constants?: { SOCKET?: number } };
    const stream = binding('stream_wrap') as { WriteWrap?: new () => Req; streamBaseState?: unknown; kReadBytesOrError?: number; kArrayBufferOffset?: number; kLastWriteWasAsync?: number };
    const { TCP, TCPConnectWrap } = tcp;
    const { Pipe, PipeConnectWrap } = pipe;
    const { WriteWrap, streamBaseState: state, kReadBytesOrError, kArrayBufferOffset, kLastWriteWasAsync } = stream;
    if (
      typeof TCP !== 'function' || typeof TCPConnectWrap !== 'function' || typeof Pipe !== 'function' || typeof PipeConnectWrap !== 'function' ||
      typeof WriteWrap !== 'function' || !(state instanceof Int32Array) || typeof tcp.constants?.SOCKET !== 'number' || typeof pipe.constants?.SOCKET !== 'number' ||
      typeof kReadBytesOrError !== 'number' || typeof kArrayBufferOffset !== 'number' || typeof kLastWriteWasAsync !== 'number'
    ) {
      return null;
    }
    const tcpType = tcp.constants.SOCKET;
    const pipeType = pipe.constants.SOCKET;
    const probe = new TCP(tcpType);
    const shaped = ['connect', 'connect6', 'readStart', 'writeBuffer', 'close', 'unref'].every((m) => typeof (probe as unknown as Record<string, unknown>)[m] === 'function');
    probe.close();
    if (!shaped) return null;
    checked = {
      tcp: () => new TCP(tcpType),
      pipe: () => new Pipe(pipeType),
      tcpConnect: () => new TCPConnectWrap(),
      pipeConnect: () => new PipeConnectWrap(),
      write: () => new WriteWrap(),
      state,
      kReadBytesOrError,
      kArrayBufferOffset,
      kLastWriteWasAsync,
      errorName: (status) => getSystemErrorName(status),
    };
  } catch {
    checked = null;
  }
  return checked;
}

// How long an address that is not the last listed gets to connect before the next is tried,
// as node:net gives each address of a name (autoSelectFamilyAttemptTimeout, 250 ms): an
// address whose packets a firewall drops would otherwise hold the whole connect time-out,
// and a CGI run on a host listed with an unreachable IPv6 address first would wait 3 s.
const ATTEMPT_MS = 250;

function handleSocket(h: Handles, target: { path: string } | { host: string; port: number; addresses: string[] }, events: WireSocketEvents): WireSocket {
  let handle = 'path' in target ? h.pipe() : h.tcp();
  let where = ''; // what the connection is to, for error messages: set as each connect starts
  let destroyed = false;
  let connected = false;
  let referenced = true;
  let attempt = 0; // the connect in progress: a completion of an earlier, abandoned one is ignored
  let attemptTimer: NodeJS.Timeout | undefined;
  const pendingWrites: Array<[Buffer, (() => void) | undefined]> = [];

  const destroy = () => {
    if (destroyed) return;
    destroyed = true;
    clearTimeout(attemptTimer);
    handle.onread = ignore; // a function, always: Node asserts that of a handle's onread
    handle.close();
  };
  const fail = (syscall: string, status: number) => {
    if (destroyed) return;
    const code = h.errorName(status);
    destroy();
    events.error(code, `${syscall} ${code} ${where}`, status);
    events.close();
  };
  const write = (bytes: Buffer, written?: () => void) => {
    if (destroyed) return;
    if (!connected) {
      pendingWrites.push([bytes, written]);
      return;
    }
    const req = h.write();
    req.handle = handle;
    req.oncomplete = (status) => {
      if (status < 0) fail('write', status);
      else written?.();
    };
    const err = handle.writeBuffer(req, bytes);
    if (err < 0) return fail('write', err);
    if (h.state[h.kLastWriteWasAsync]) req.buffer = bytes; // kept alive until the kernel has it
    else written?.();
  };

  const onread = (arrayBuffer: ArrayBuffer | undefined) => {
    const nread = h.state[h.kReadBytesOrError];
    if (nread > 0 && arrayBuffer) return events.data(Buffer.from(arrayBuffer, h.state[h.kArrayBufferOffset], nread));
    if (nread === 0 || destroyed) return;
    if (h.errorName(nread) === 'EOF') {
      destroy();
      events.close();
    } else {
      fail('read', nread);
    }
  };
  handle.onread = onread;
  /** Abandons the connect to the address at `index` (refused, or no answer yet) for the next one listed, on a new handle. */
  const nextAddress = (index: number) => {
    clearTimeout(attemptTimer);
    handle.onread = ignore;
    handle.close(); // its connect, if still pending, completes as cancelled: ignored
    handle = h.tcp();
    if (!referenced) handle.unref();
    handle.onread = onread;
    connect(index + 1);
  };
  /** Connects to the address at `index` (or the socket path). */
  const connect = (index: number) => {
    const current = ++attempt;
    const req = 'path' in target ? h.pipeConnect() : h.tcpConnect();
    const address = 'path' in target ? target.path : target.addresses[index];
    const another = 'addresses' in target && index + 1 < target.addresses.length;
    req.address = address;
    if (!('path' in target)) req.port = target.port;
    req.oncomplete = (status) => {
      if (destroyed || current !== attempt) return;
      clearTimeout(attemptTimer);
      if (status < 0 && another) return nextAddress(index);
      if (status < 0) return fail('connect', status);
      connected = true;
      handle.setNoDelay?.(true);
      const err = handle.readStart();
      if (err < 0) return fail('read', err);
      for (const [bytes, written] of pendingWrites.splice(0)) write(bytes, written);
      events.connect();
    };
    let err: number;
    if ('path' in target) {
      where = target.path;
      err = handle.connect(req, target.path);
    } else {
      where = address === target.host ? `${address}:${target.port}` : `${target.host} (${address}):${target.port}`;
      err = IPV4.test(address) ? handle.connect(req, address, target.port) : handle.connect6(req, address, target.port);
    }
    // A connect refused at once (a bad address) is reported after this returns, as net does.
    if (err < 0) queueMicrotask(() => req.oncomplete(err));
    else if (another) {
      attemptTimer = setTimeout(() => current === attempt && !destroyed && nextAddress(index), ATTEMPT_MS);
      if (!referenced) attemptTimer.unref();
    }
  };
  connect(0);

  return {
    kind: 'handle',
    get destroyed() {
      return destroyed;
    },
    write,
    destroy,
    unref: () => {
      referenced = false;
      handle.unref();
      attemptTimer?.unref();
    },
  };
}

// ---- node:net ----------------------------------------------------------------------------

function netSocket({ connect }: typeof import('node:net'), target: WireTarget, events: WireSocketEvents): WireSocket {
  // Reads land in one buffer and go to `data`, not through the socket's Readable stream.
  const onread = { buffer: Buffer.allocUnsafe(64 * 1024), callback: (length: number, buffer: Uint8Array) => (events.data(Buffer.from(buffer.subarray(0, length))), true) };
  const socket: Socket = 'path' in target ? connect({ path: target.path, onread }) : connect({ port: target.port, host: target.host, onread });
  socket.setNoDelay(true);
  socket.on('connect', () => events.connect());
  let closed = false;
  socket.on('error', (err: NodeJS.ErrnoException) => events.error(err.code ?? 'PROTOCOL_CONNECTION_LOST', err.message, err.errno));
  socket.on('close', () => {
    closed = true;
    events.close();
  });
  return {
    kind: 'net',
    get destroyed() {
      return closed || socket.destroyed;
    },
    write: (bytes, written) => void socket.write(bytes, written && (() => written())),
    destroy: () => void socket.destroy(),
    unref: () => void socket.unref(),
  };
}
