#!/usr/bin/env node
// Memory of the endpoint load generator under many concurrent streams: runs `llmops bench URL --concurrency 2000`
// against the tests' stream server and samples the llmops process's RSS every second. Memory must stay bounded:
// HDR histograms and counters, never a list of samples, so RSS levels off once every connection is open.
// Usage: npm run build && node scripts/bench/endpoint-memory.mjs [--streams 2000] [--seconds 30] [--json]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values } = parseArgs({
  options: {
    streams: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '30' },
    json: { type: 'boolean', default: false },
  },
});
const streams = Number(values.streams);
const seconds = Number(values.seconds);

// Slow streams (a token every 100 ms) keep all of them open at once without saturating the one-core server.
const { startServerProcess } = await import(path.join(root, 'dist/test/helpers/server-process.js'));
const server = await startServerProcess(path.join(root, 'scripts/bench/stream-server.mjs'), {
  cwd: root,
  env: {},
  args: ['--ttft', '200', '--itl', '100', '--tokens', '16'],
});
const url = server.url;

const bench = spawn(
  process.execPath,
  [
    path.join(root, 'bin/llmops.js'),
    'bench',
    url,
    '--concurrency',
    String(streams),
    '--duration',
    `${seconds}s`,
    '--warmup',
    '2s',
    '--max-tokens',
    '16',
    '--json',
  ],
  {
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { ...process.env, CI: '1' },
  },
);
let stdout = '';
bench.stdout.on('data', (chunk) => (stdout += chunk));
const rssMb = [];
const sampler = setInterval(() => {
  try {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${bench.pid}/status`, 'utf8'))?.[1]);
    if (kb) rssMb.push(Math.round(kb / 102.4) / 10);
  } catch {
    // the process has just exited
  }
}, 1000);
const code = await new Promise((resolve) => bench.on('close', resolve));
clearInterval(sampler);
server.child.kill('SIGTERM');

const result = JSON.parse(stdout);
const step = result.runs[0];
const half = Math.floor(rssMb.length / 2);
const firstHalfPeak = Math.max(...rssMb.slice(2, half));
const secondHalfPeak = Math.max(...rssMb.slice(half));
const growth = secondHalfPeak / firstHalfPeak - 1;
const summary = {
  streams,
  seconds,
  exitCode: code,
  requests: step.requests,
  errors: step.errors,
  errorsByKind: step.errorsByKind,
  requestsPerSecond: step.requestsPerSecond,
  ttftP50Ms: step.ttftMs.p50,
  rssMb,
  firstHalfPeakMb: firstHalfPeak,
  secondHalfPeakMb: secondHalfPeak,
  growthPercent: Math.round(growth * 1000) / 10,
};
// Bounded: the second half's peak within 10% of the first half's (connections opened, buffers warmed, then flat).
const ok = code === 0 && step.errors === 0 && growth <= 0.1;
if (values.json) console.log(JSON.stringify({ ...summary, ok }, null, 2));
else {
  console.log(
    `${streams} concurrent streams for ${seconds}s: ${step.requests} requests, ${step.errors} errors, ${step.requestsPerSecond} req/s, TTFT p50 ${step.ttftMs.p50} ms`,
  );
  console.log(`llmops RSS (MB, every second): ${rssMb.join(' ')}`);
  console.log(
    `peak RSS first half ${firstHalfPeak} MB, second half ${secondHalfPeak} MB (${summary.growthPercent}%): ${ok ? 'bounded' : 'NOT bounded or errors'}`,
  );
}
process.exit(ok ? 0 : 1);
