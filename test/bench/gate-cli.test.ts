import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import type { GenericBenchResult } from '../../src/bench/engine/types.js';
import { llmops } from './cli.js';
import { installFakeDocker } from './fake-docker.js';
import { tempDir } from '../helpers/temp-dir.js';

/** A copy of a results file as if every latency were `factor` times as long (and throughput 1/factor). */
function scaled(result: GenericBenchResult, factor: number): GenericBenchResult {
  return {
    ...result,
    results: result.results.map((row) => ({
      ...row,
      latencyMs: Object.fromEntries(
        Object.entries(row.latencyMs).map(([key, value]) => [key, value * factor]),
      ) as GenericBenchResult['results'][number]['latencyMs'],
      throughputPerSecond: row.throughputPerSecond / factor,
      stats: { latencyMs: { ...row.stats.latencyMs, stddev: row.stats.latencyMs.stddev * factor } },
    })),
  };
}

// The fake trtexec reports the same latencies every run, so the verdicts below cannot flake on a busy machine;
// the noise test still sees a real spread (2.0-2.2 ms) from the parsed trace.
describe('bench gate from the CLI', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let current: GenericBenchResult;
  const args = () => [
    'bench',
    path.join(dir, 'model.plan'),
    '--shape',
    'input=8x16',
    '--iterations',
    '60',
    '--warmup',
    '1',
  ];

  before(async () => {
    dir = await tempDir('llmops-bench-gate-');
    await installFakeDocker(path.join(dir, 'bin'));
    await writeFile(path.join(dir, 'model.plan'), Buffer.from('ftrt'));
    env = { PATH: `${path.join(dir, 'bin')}${path.delimiter}${process.env.PATH}`, FAKE_TRT_VERSION: '10.3.0' };
    const run = await llmops([...args(), '--out', path.join(dir, 'run.json')], { env });
    assert.equal(run.code, 0, run.stderr);
    current = JSON.parse(await readFile(path.join(dir, 'run.json'), 'utf8')) as GenericBenchResult;
    await writeFile(path.join(dir, 'fast.json'), JSON.stringify(scaled(current, 0.8)));
  });

  it('exits 3 with a table of regressions when the baseline was 20% faster', async () => {
    const run = await llmops([...args(), '--baseline', path.join(dir, 'fast.json'), '--max-regression', '5%'], { env });
    assert.equal(run.code, 3, run.stderr);
    assert.match(run.stdout, /gate FAILED: 2 metric/);
    assert.match(
      run.stdout,
      /batch=8 shapes=input:8x16 │ latencyMs\.p50 +│ [\d.]+ +│ [\d.]+ +│ \+25\.0% worse │ ±[\d.]+% │ REGRESSED/,
    );
    assert.match(run.stdout, /throughputPerSecond .*REGRESSED/);
    assert.match(
      run.stderr,
      /llmops: error: bench gate failed: 2 metric\(s\) regressed more than 5% against .*fast\.json/,
    );
  });

  it('exits 0 on an equal baseline', async () => {
    const run = await llmops([...args(), '--baseline', path.join(dir, 'run.json')], { env });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /gate passed: no metric worse than 5\.0% beyond noise \(2 compared\)/);
  });

  it('exits 0 when this run is faster than the baseline', async () => {
    await writeFile(path.join(dir, 'slow.json'), JSON.stringify(scaled(current, 1.25)));
    const run = await llmops([...args(), '--baseline', path.join(dir, 'slow.json')], { env });
    assert.equal(run.code, 0, run.stdout + run.stderr);
  });

  it('puts the verdict in the one --json document and keeps --out written', async () => {
    const out = path.join(dir, 'gated.json');
    const run = await llmops([...args(), '--baseline', path.join(dir, 'fast.json'), '--json', '--out', out], { env });
    assert.equal(run.code, 3);
    const document = JSON.parse(run.stdout) as GenericBenchResult & {
      gate: { passed: boolean; regressions: unknown[] };
    };
    assert.equal(document.gate.passed, false);
    assert.equal(document.gate.regressions.length, 2);
    const saved = JSON.parse(await readFile(out, 'utf8')) as GenericBenchResult;
    assert.equal(saved.results.length, 1);
  });
});
