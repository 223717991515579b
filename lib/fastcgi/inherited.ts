// The listening sockets a process can inherit: on fd 0 from a web server (mod_fcgid,
// mod_fastcgi), on fd 3 from systemd, on fd 4 from a supervisor. Read without node:net,
// which a CGI run (that asks whether fd 0 listens) must not load.
import { readFileSync, readlinkSync } from 'node:fs';

/**
 * Where a supervisor's worker finds the listening socket: past stdio and the IPC channel
 * (fd 3). Never on fds 0-2: O_NONBLOCK belongs to the socket that every worker shares, and
 * libuv makes a child's fds 0-2 blocking when it spawns one, and Node puts back their flags
 * from its start when it exits. A worker whose accept() found the queue empty (another worker
 * won the connection) then slept there, its open connections unanswered.
 */
export const WORKER_SOCKET_FD = 4;

/**
 * This process is a supervisor's worker: ADRATER_WORKER=1 and the IPC channel the supervisor
 * opens (fd 3, which Node turns into process.send). The variable alone, set by hand or left
 * in an environment, does not make one: such a process would look for a socket on fd 4 that
 * nobody gave it.
 */
export function isSupervisedWorker(): boolean {
  return process.env.ADRATER_WORKER === '1' && typeof process.send === 'function';
}

/**
 * True when fd 0 is a listening socket (mod_fcgid, mod_fastcgi). A connected socket on
 * fd 0 is CGI under mod_cgid.
 */
export const stdinIsListening = (): boolean => listens(0) === true;

/**
 * Whether `fd` is a listening socket, as Linux lists each socket's state in /proc/net;
 * undefined where that cannot tell (no /proc, or a socket of a kind those tables omit).
 */
export function listens(fd: number): boolean | undefined {
  let target: string;
  try {
    target = readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
  const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
  if (!inode) return false;
  const table = (name: string) => {
    try {
      return readFileSync(`/proc/self/net/${name}`, 'latin1').split('\n').slice(1);
    } catch {
      return [];
    }
  };
  // unix: Num RefCount Protocol Flags Type St Inode Path; flag 0x10000 is __SO_ACCEPTCON.
  for (const line of table('unix')) {
    const f = line.trim().split(/\s+/);
    if (f[6] === inode) return (parseInt(f[3], 16) & 0x10000) !== 0;
  }
  // tcp, tcp6: sl local remote st ... inode (field 9); st 0A is LISTEN.
  for (const line of [...table('tcp'), ...table('tcp6')]) {
    const f = line.trim().split(/\s+/);
    if (f[9] === inode) return f[3] === '0A';
  }
  return undefined;
}

/** Whether systemd passed this process a socket (socket activation: LISTEN_PID is ours): it is fd 3. */
export function systemdSocket(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.LISTEN_PID === String(process.pid) && Number(env.LISTEN_FDS) >= 1;
}
