// A worker's side of the channel to its supervisor (Node's IPC on fd 3 of the worker's
// spawn): it says when it is ready, answers the supervisor's question for its counters, asks
// the supervisor for the status summed over all workers, and hears that a reload retires it.
import type { Counters, Status } from './status.js';
import { isSupervisedWorker } from './inherited.js';

type Message = { type: 'ready' } | { type: 'retire' } | { type: 'counters?'; id: number } | { type: 'counters'; id: number; counters: Counters } | { type: 'status?'; id: number } | { type: 'status'; id: number; status: Status };

// Longer than the supervisor waits for each worker's counters (supervisor.ts), so that an
// answer comes even when a worker is too busy to give its own.
const ASK_TIMEOUT_MS = 5000;

export interface SupervisorChannel {
  ready(): void;
  /** The status summed over every worker, as the supervisor puts it together. */
  status(): Promise<Status>;
  /** Called when the supervisor is gone: a worker without one stops. */
  onLost(stop: () => void): void;
  /** Called when a reload replaces this worker: another serves from now on. */
  onRetire(retire: () => void): void;
}

/** The channel, when this process is a supervisor's worker (inherited.ts: isSupervisedWorker). */
export function supervisorChannel(counters: () => Counters): SupervisorChannel | null {
  if (!isSupervisedWorker()) return null;
  // Without a callback a failed write (the supervisor gone) is an 'error' event on process;
  // the worker learns of the loss from 'disconnect' and stops there.
  const send = (message: Message) => process.send?.(message, undefined, undefined, () => {});
  const waiting = new Map<number, (status: Status) => void>();
  let seq = 0;
  let retire = () => {};
  process.on('message', (message: Message) => {
    if (message.type === 'counters?') send({ type: 'counters', id: message.id, counters: counters() });
    if (message.type === 'status') waiting.get(message.id)?.(message.status);
    if (message.type === 'retire') retire();
  });
  // The channel must not keep a worker alive once it has stopped serving.
  process.channel?.unref();
  return {
    ready: () => send({ type: 'ready' }),
    status: () =>
      new Promise<Status>((resolve, reject) => {
        const id = ++seq;
        const timer = setTimeout(() => (waiting.delete(id), reject(new Error('the supervisor did not answer'))), ASK_TIMEOUT_MS);
        waiting.set(id, (status) => (clearTimeout(timer), waiting.delete(id), resolve(status)));
        send({ type: 'status?', id });
      }),
    onLost: (stop) => process.on('disconnect', stop),
    onRetire: (then) => (retire = then),
  };
}

export type { Message };
