// A plain socket server for tests of clients: on a free loopback port, or at a Unix socket
// path; `serve` is done with each connection. The test's teardown closes it and every
// connection it took.
import type { Test } from 'tap';
import { connect, createServer } from 'node:net';
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

/**
 * A stand-in for a MySQL server that greets and then never ends the login (an authentication
 * plugin waiting on its directory, a proxy that greets for servers it cannot reach): it relays
 * the greeting of the real server at `port` on 127.0.0.1 and swallows all that follows. Its port.
 */
export async function greetsThenSilent(t: Test, port: number): Promise<number> {
  const stand = await socketServer(t, (client) => {
    const server = connect(port, '127.0.0.1');
    server.once('data', (greeting) => client.write(greeting));
    server.on('error', () => {});
    client.on('close', () => server.destroy());
  });
  return (stand as { port: number }).port;
}
