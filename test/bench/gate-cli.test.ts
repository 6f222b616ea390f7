import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import type { GenericBenchResult } from '../../src/bench/engine/types.js';
import { llmops } from './cli.js';
import { mlpModel } from './onnx-writer.js';

/** A copy of a results file as if every latency were `factor` times as long (and throughput 1/factor). */
function scaled(result: GenericBenchResult, factor: number): GenericBenchResult {
  return {
    ...result,
    results: result.results.map((row) => ({
      ...row,
      latencyMs: Object.fromEntries(Object.entries(row.latencyMs).map(([key, value]) => [key, value * factor])) as GenericBenchResult['results'][number]['latencyMs'],
      throughputPerSecond: row.throughputPerSecond / factor,
      stats: { latencyMs: { ...row.stats.latencyMs, stddev: row.stats.latencyMs.stddev * factor } },
    })),
  };
}

describe('bench gate from the CLI', () => {
  let dir: string;
  let current: GenericBenchResult;
  // One thread and ~0.5 ms inferences: steady enough on a shared 2-core machine that a 20% gap is far outside the noise.
  const args = () => ['bench', path.join(dir, 'mlp.onnx'), '--shape', 'batch=32', '--iterations', '50', '--warmup', '5', '--threads', '1'];

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'llmops-bench-gate-'));
    await writeFile(path.join(dir, 'mlp.onnx'), mlpModel({ inFeatures: 512, hidden: 2048, outFeatures: 16 }));
    const run = await llmops([...args(), '--out', path.join(dir, 'run.json')]);
    assert.equal(run.code, 0, run.stderr);
    current = JSON.parse(await readFile(path.join(dir, 'run.json'), 'utf8')) as GenericBenchResult;
  });

  it('exits 3 with a table of regressions when the baseline was 20% faster', async () => {
    await writeFile(path.join(dir, 'fast.json'), JSON.stringify(scaled(current, 0.8)));
    const run = await llmops([...args(), '--baseline', path.join(dir, 'fast.json'), '--max-regression', '5%']);
    assert.equal(run.code, 3, run.stderr);
    assert.match(run.stdout, /gate FAILED/);
    assert.match(run.stdout, /batch=32 shapes=x:32x512 │ latencyMs\.p50 .*REGRESSED/);
    assert.match(run.stderr, /llmops: error: bench gate failed: \d metric\(s\) regressed more than 5% against/);
  });

  it('puts the verdict in the one --json document', async () => {
    const run = await llmops([...args(), '--baseline', path.join(dir, 'fast.json'), '--json']);
    assert.equal(run.code, 3);
    const document = JSON.parse(run.stdout) as GenericBenchResult & { gate: { passed: boolean; regressions: unknown[] } };
    assert.equal(document.gate.passed, false);
    assert.ok(document.gate.regressions.length >= 1);
  });

  it('exits 0 when this run is not slower than the baseline', async () => {
    await writeFile(path.join(dir, 'slow.json'), JSON.stringify(scaled(current, 1.25)));
    const run = await llmops([...args(), '--baseline', path.join(dir, 'slow.json')]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /gate passed/);
  });
});
