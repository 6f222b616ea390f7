#!/usr/bin/env node
// Benchmark of the machine itself: the same fixed work timed over and over on every core at once, with nothing of
// llmops involved. Its p99 ÷ p50 is the floor under any latency ratio measured here. One kind of work is compute-bound
// (arithmetic in registers), the other memory-bound (five passes over 128 MB per core, one read per cache line), each
// about as long as a decode step of an 80M model on 2 cores. A decode
// step reads the model's weights, so it is memory-bound. On a VM whose host shares memory bandwidth with other tenants,
// the memory-bound spread is the one that ITL inherits.
// Usage: node scripts/bench/machine-noise.mjs [--seconds 6] [--workers N (default: every CPU)]
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

/** Times `kind` work on `workers` threads at once for about `seconds`; p50, p99 (ms) over every pass but the first few. */
export async function measureMachineNoise({ kind = 'memory', seconds = 6, workers = os.availableParallelism() } = {}) {
  const results = await Promise.all(
    Array.from(
      { length: workers },
      () =>
        new Promise((resolve, reject) => {
          const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { kind, seconds } });
          worker.once('message', resolve);
          worker.once('error', reject);
        }),
    ),
  );
  const times = results.flat().sort((a, b) => a - b);
  const pct = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
  return { kind, workers, passes: times.length, p50: pct(0.5), p99: pct(0.99), spread: pct(0.99) / pct(0.5) };
}

/**
 * The sampling interval (ms) of each running DAMON context: the kernel's data access monitor, which some VM hosts run
 * to find cold memory. Each sample checks and clears page access bits, and stalls memory-bound work while it does.
 */
export function damonSampling() {
  const root = '/sys/kernel/mm/damon/admin/kdamonds';
  const read = (file) => {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch {
      return null;
    }
  };
  let kdamonds = [];
  try {
    kdamonds = readdirSync(root).filter((name) => /^\d+$/.test(name));
  } catch {
    // no DAMON in this kernel
  }
  return kdamonds
    .filter((id) => read(`${root}/${id}/state`) === 'on')
    .flatMap((id) => {
      const sample = read(`${root}/${id}/contexts/0/monitoring_attrs/intervals/sample_us`);
      return sample === null ? [] : [Number(sample) / 1000];
    });
}

/**
 * Pauses every running DAMON context (root only) and returns a function that restores them, which also runs when
 * the process exits or is interrupted: a benchmark may then report its figures with and without the host's memory
 * sampling. Throws if there is DAMON to pause but it can't be.
 */
export function pauseDamon() {
  const root = '/sys/kernel/mm/damon/admin/kdamonds';
  let running = [];
  try {
    running = readdirSync(root).filter(
      (id) => /^\d+$/.test(id) && readFileSync(`${root}/${id}/state`, 'utf8').trim() === 'on',
    );
  } catch {
    // no DAMON in this kernel
  }
  for (const id of running) writeFileSync(`${root}/${id}/state`, 'off');
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    for (const id of running) writeFileSync(`${root}/${id}/state`, 'on');
  };
  process.once('exit', restore);
  for (const signal of ['SIGINT', 'SIGTERM'])
    process.once(signal, () => {
      restore();
      process.exit(130);
    });
  return { paused: running.length, restore };
}

function timePasses({ kind, seconds }) {
  const lines = new Float64Array((128 * 1024 * 1024) / 8).fill(1);
  const pass =
    kind === 'memory'
      ? () => {
          let sum = 0;
          for (let repeat = 0; repeat < 5; repeat += 1) for (let i = repeat; i < lines.length; i += 8) sum += lines[i];
          return sum;
        }
      : () => {
          let x = 0;
          for (let i = 0; i < 1_500_000; i += 1) x = (x * 1.0000001 + i) % 1e9;
          return x;
        };
  const times = [];
  const end = performance.now() + seconds * 1000;
  let sink = 0;
  while (performance.now() < end) {
    const started = performance.now();
    sink += pass();
    times.push(performance.now() - started);
  }
  if (sink === -1) console.log(sink); // keeps the passes from being optimized away
  return times.slice(5); // the first passes include compilation
}

if (!isMainThread) parentPort.postMessage(timePasses(workerData));
else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '6' }, workers: { type: 'string' } } });
  const damon = damonSampling();
  if (damon.length > 0) console.log(`DAMON samples memory accesses every ${damon.join(', ')} ms`);
  for (const kind of ['compute', 'memory']) {
    const noise = await measureMachineNoise({
      kind,
      seconds: Number(values.seconds),
      ...(values.workers ? { workers: Number(values.workers) } : {}),
    });
    console.log(
      `${kind}-bound work on ${noise.workers} threads at once, ${noise.passes} passes: p50 ${noise.p50.toFixed(1)} ms, ` +
        `p99 ${noise.p99.toFixed(1)} ms, p99/p50 ${noise.spread.toFixed(2)}`,
    );
  }
}
