/**
 * Worker-thread entry of the open-loop sender's timer (see precise-timer.ts for why). The main thread writes a due
 * time (ms on process.hrtime's clock) into shared memory and bumps a sequence number; this thread blocks in
 * Atomics.wait until that time, then posts the sequence number back. A newer due time (or a cancel) wakes the wait
 * early and is simply re-read, so there is never more than one wake-up pending.
 */
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import type { PreciseTimerShared } from './precise-timer.js';

const { buffer } = workerData as PreciseTimerShared;
const sequence = new Int32Array(buffer, 0, 1);
const dueAt = new Float64Array(buffer, 8, 1);
// The loop allocates nothing (no BigInt per reading of the clock): a garbage collection here would delay a send.
const hrtimeOffsetMs = Number(process.hrtime.bigint()) / 1e6 - performance.now();
parentPort!.postMessage('ready');

for (;;) {
  const seen = Atomics.load(sequence, 0);
  const due = dueAt[0]!;
  if (!(due > 0)) {
    Atomics.wait(sequence, 0, seen);
    continue;
  }
  const remaining = due - (performance.now() + hrtimeOffsetMs);
  if (remaining > 0) {
    Atomics.wait(sequence, 0, seen, remaining);
    continue;
  }
  parentPort!.postMessage(seen);
  // Until the main thread asks for the next wake-up (it may already have: then this returns at once).
  Atomics.wait(sequence, 0, seen);
}
