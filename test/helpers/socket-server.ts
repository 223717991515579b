// A plain socket server for tests of clients: on a free loopback port, or at a Unix socket
// path; `serve` is done with each connection. The test's teardown closes it and every
// connection it took.
import type { Test } from 'tap';
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';

export async function socketServer(t: Test, serve: (socket: Socket) => void, path?: string): Promise<{ host: string; port: number } | { path: string }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    serve(socket);
  });
  await new Promise<void>((resolve) => (path ? server.listen(path, resolve) : server.listen(0, '127.0.0.1', resolve)));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return path ? { path } : { host: '127.0.0.1', port: (server.address() as AddressInfo).port };
}
