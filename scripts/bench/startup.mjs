#!/usr/bin/env node
// Benchmark: how long `llmops --version` and `llmops --help` take compared with `node -e 0`, and which packages they
// load. The target is within 2.5x of bare Node: heavy modules (onnxruntime-node, undici, yaml, ora) load lazily.
// Usage: node scripts/bench/startup.mjs [runs]
import { execFileSync, spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const runs = Number(process.argv[2] ?? 30);
const cli = path.join(root, 'bin', 'llmops.js');

function time(args) {
  const samples = [];
  for (let i = 0; i < runs + 3; i += 1) {
    const started = performance.now();
    execFileSync(process.execPath, args, { stdio: 'ignore' });
    if (i >= 3) samples.push(performance.now() - started); // first runs warm the file cache
  }
  samples.sort((a, b) => a - b);
  return { median: samples[Math.floor(samples.length / 2)], min: samples[0] };
}

const baseline = time(['-e', '0']);
const rows = [['node -e 0', baseline]];
for (const args of [['--version'], ['--help'], ['generate', '--help']])
  rows.push([`llmops ${args.join(' ')}`, time([cli, ...args])]);

console.log(`startup over ${runs} runs (median / min, ms):`);
for (const [name, t] of rows) {
  const ratio = t.median / baseline.median;
  console.log(
    `  ${name.padEnd(24)} ${t.median.toFixed(1).padStart(7)} ${t.min.toFixed(1).padStart(7)}   ${ratio.toFixed(2)}x node`,
  );
}

const traced = spawnSync(
  process.execPath,
  ['--import', path.join(root, 'scripts', 'import-trace.mjs'), cli, '--help'],
  { encoding: 'utf8' },
);
const packages = [
  ...new Set(
    traced.stderr
      .split('\n')
      .filter((l) => l.startsWith('[import] '))
      .map((l) => l.slice(9)),
  ),
].sort();
console.log(`packages loaded by --help: ${packages.join(', ') || '(none)'}`);
const worst = Math.max(...rows.slice(1).map(([, t]) => t.median / baseline.median));
console.log(
  worst <= 2.5
    ? `OK: slowest is ${worst.toFixed(2)}x node -e 0 (target <= 2.5x)`
    : `OVER TARGET: ${worst.toFixed(2)}x node -e 0 (target <= 2.5x)`,
);
