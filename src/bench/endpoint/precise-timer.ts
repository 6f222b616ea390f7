import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';

/**
 * Node's timers fire on the event loop's millisecond clock: a send due 2.3 ms from now leaves somewhere in the
 * millisecond after its timer's whole-ms deadline, which at 400 req/s adds as much spread to the gaps between sends as
 * a gamma process of shape 4 has of its own. Polling with setImmediate until the due time is precise but keeps a core
 * busy for the whole margin before every send. This timer instead blocks a worker thread in Atomics.wait, whose timeout
 * is sub-millisecond (a futex), and has it post a message when the time comes: the main loop, idle in epoll, wakes on
 * the message some tens of microseconds later and costs nothing while it waits.
 */
export interface PreciseTimer {
  /** Resolves at `atMs` (performance.now()'s clock), not before. One sleep at a time: a new one ends the last. */
  sleepUntil(atMs: number): Promise<void>;
  /** Ends the current sleep now (an interrupt). */
  cancel(): void;
  /** Stops the worker thread. */
  close(): Promise<void>;
}

/** What the worker thread is given: the shared sequence number (Int32 at 0) and due time (Float64 at 8). */
export interface PreciseTimerShared {
  buffer: SharedArrayBuffer;
}

/** Starts the worker thread; resolves once it waits, loaded, so the first sleep is as precise as the rest. */
export async function startPreciseTimer(): Promise<PreciseTimer> {
  const buffer = new SharedArrayBuffer(16);
  const sequence = new Int32Array(buffer, 0, 1);
  const dueAt = new Float64Array(buffer, 8, 1);
  const shared: PreciseTimerShared = { buffer };
  const worker = new Worker(new URL('./precise-timer-worker.js', import.meta.url), { workerData: shared });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the send timer's thread exited (code ${code}) as it started`)));
  });
  // performance.now() and process.hrtime() read the same monotonic clock: one offset converts between them.
  const hrtimeOffsetMs = Number(process.hrtime.bigint()) / 1e6 - performance.now();
  let wake: (() => void) | null = null;
  let failure: Error | null = null;
  const settle = () => {
    const resolve = wake;
    wake = null;
    resolve?.();
  };
  worker.on('message', (seen: number) => {
    // A wake-up for a sleep that has since been replaced or cancelled is stale.
    if (seen === Atomics.load(sequence, 0)) settle();
  });
  worker.on('error', (error) => {
    failure = error;
    settle();
  });
  // The thread never keeps the process alive by itself (a sleep's backstop timer does, while it lasts).
  worker.unref();
  const ask = (hrtimeMs: number) => {
    dueAt[0] = hrtimeMs;
    Atomics.add(sequence, 0, 1);
    Atomics.notify(sequence, 0);
  };
  return {
    sleepUntil(atMs) {
      if (failure) return Promise.reject(failure);
      settle();
      if (atMs <= performance.now()) return Promise.resolve();
      return new Promise<void>((resolve) => {
        // A backstop on Node's own timer, set to fire a millisecond or two after the due time (never before it):
        // should the thread be slow to get a core, the send leaves that late rather than waiting on it. Being an
        // ordinary timer, it also keeps the process alive while it sleeps (the thread does not).
        const backstop = setTimeout(settle, Math.ceil(atMs - performance.now()) + 1);
        wake = () => {
          clearTimeout(backstop);
          resolve();
        };
        ask(atMs + hrtimeOffsetMs);
      });
    },
    cancel() {
      ask(0);
      settle();
    },
    async close() {
      ask(0);
      settle();
      await worker.terminate();
    },
  };
}
