import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { benchEngine } from '../../src/bench/engine/run.js';
import { defaultThreadCount } from '../../src/engine/cpu-threads.js';
import type { GenericBenchResult } from '../../src/bench/engine/types.js';
import { llmops } from './cli.js';
import { mlpModel } from './onnx-writer.js';
import { tempDir } from '../helpers/temp-dir.js';

let dir: string;
let mlp: string;

before(async () => {
  dir = await tempDir('llmops-bench-generic-');
  mlp = path.join(dir, 'mlp.onnx');
  // Wide enough that one inference takes a measurable fraction of a millisecond.
  await writeFile(mlp, mlpModel({ inFeatures: 128, hidden: 512, outFeatures: 16 }));
});

describe('generic ONNX bench', () => {
  it('benches an MLP with a symbolic batch dimension given --shape batch=8', async () => {
    const run = await llmops(['bench', mlp, '--shape', 'batch=8', '--iterations', '30', '--warmup', '3', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as GenericBenchResult;
    assert.equal(result.schemaVersion, 1);
    assert.equal(result.kind, 'engine');
    assert.equal(result.mode, 'generic');
    assert.equal(result.provider, 'cpu');
    assert.ok(typeof result.loadMs === 'number' && result.loadMs > 0);
    assert.equal(result.results.length, 1);
    const [row] = result.results;
    assert.deepEqual(row!.shapes, { x: [8, 128] });
    assert.equal(row!.batch, 8);
    assert.equal(row!.iterations, 30);
    assert.equal(row!.warmup.iterations, 3);
    assert.deepEqual(Object.keys(row!.latencyMs), ['p50', 'p90', 'p95', 'p99', 'mean', 'max']);
    assert.ok(
      row!.latencyMs.p50 > 0 && row!.latencyMs.p50 <= row!.latencyMs.p99 && row!.latencyMs.p99 <= row!.latencyMs.max,
    );
    assert.equal(row!.stats.latencyMs.count, 30);
    // Items per second can't exceed what the mean latency allows (the loop adds a little time between runs).
    assert.ok(row!.throughputPerSecond > 0 && row!.throughputPerSecond <= ((8 * 1000) / row!.latencyMs.mean) * 1.01);
    assert.ok(typeof row!.peakRssMb === 'number' && row!.peakRssMb > 10);
  });

  it('runs one configuration per --batch value on the leading symbolic dimension', async () => {
    const result = (await benchEngine({ target: mlp, batch: [1, 4], iterations: 5, warmup: 1 })) as GenericBenchResult;
    assert.deepEqual(
      result.results.map((row) => row.shapes.x),
      [
        [1, 128],
        [4, 128],
      ],
    );
  });

  it('prints a table and writes --out JSON and --csv, refusing to overwrite without --force', async () => {
    const out = path.join(dir, 'out.json');
    const csv = path.join(dir, 'out.csv');
    const run = await llmops(['bench', mlp, '--shape', 'batch=2', '--iterations', '5', '--out', out, '--csv', csv]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /│ batch │ shapes/);
    assert.match(run.stdout, /x=2x128/);
    assert.match(run.stdout, /warm-up excluded: 10 iteration/);
    const saved = JSON.parse(await readFile(out, 'utf8')) as GenericBenchResult;
    assert.equal(saved.results[0]!.batch, 2);
    const lines = (await readFile(csv, 'utf8')).trim().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /^model,mode,provider,threads,spin_wait,load_ms,batch,shapes,iterations,latency_p50_ms,/);
    // The threads column holds what ONNX Runtime ran with, given or not.
    assert.match(lines[1]!, new RegExp(`,generic,cpu,${defaultThreadCount()},true,[\\d.]+,2,x=2x128,5,`));
    assert.equal(saved.threads, defaultThreadCount());

    const again = await llmops(['bench', mlp, '--shape', 'batch=2', '--iterations', '5', '--out', out]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /--out .*out\.json already exists/);
    const forced = await llmops(['bench', mlp, '--shape', 'batch=2', '--iterations', '5', '--out', out, '--force']);
    assert.equal(forced.code, 0, forced.stderr);
  });
});
