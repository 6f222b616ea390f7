import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { resolveTarget } from '../../src/bench/engine/target.js';
import { compareToBaseline } from '../../src/bench/gate.js';
import type { GenericBenchResult } from '../../src/bench/engine/types.js';
import { engineResultCsv, renderEngineResult } from '../../src/commands/bench/engine-print.js';
import { renderGate } from '../../src/commands/bench/gate-print.js';
import { LlmopsError } from '../../src/errors.js';
import { tempDir } from '../helpers/temp-dir.js';

const summary = (ms: number) => ({ p50: ms, p90: ms, p95: ms, p99: ms, mean: ms, max: ms });
const result: GenericBenchResult = {
  schemaVersion: 1,
  kind: 'engine',
  mode: 'generic',
  model: 'm.onnx',
  provider: 'cpu',
  loadMs: 12,
  threads: null,
  spinWait: true,
  gpuPricePerHour: null,
  startedAt: '2026-01-01T00:00:00.000Z',
  hardware: { cpu: 'Test CPU', cores: 2, memoryGb: 4, os: 'linux', node: '20' },
  results: [
    {
      batch: 8,
      shapes: { x: [8, 16], 'a,b': [1] },
      iterations: 10,
      latencyMs: summary(2),
      throughputPerSecond: 4000,
      peakRssMb: 100,
      warmup: { iterations: 2, meanMs: 5 },
      stats: { latencyMs: { count: 10, min: 2, stddev: 0.5, histogram: '' } },
      noisy: ['latencyMs'],
    },
  ],
};

describe('engine result rendering', () => {
  it('shows context, a row per configuration, warm-up and noise notes', () => {
    const text = renderEngineResult(result);
    assert.match(text, /model m\.onnx · generic · provider cpu · load 12 ms/);
    assert.match(text, /│ 8 +│ x=8x16 a,b=1/);
    assert.match(text, /warm-up excluded: 2 iteration/);
    assert.match(text, /noise: wide spread .* batch 8 \(latencyMs\)/);
  });

  it('quotes CSV cells that hold commas', () => {
    const [header, row] = engineResultCsv(result).trim().split('\n');
    assert.equal(header!.split(',').length, row!.match(/(?:^|,)("(?:[^"]|"")*"|[^,]*)/g)!.length);
    assert.match(row!, /,"x=8x16 a,b=1",/);
  });

  it('renders the gate verdict and the regressed metrics', () => {
    const slower = {
      ...result,
      results: [
        {
          ...result.results[0]!,
          latencyMs: summary(4),
          throughputPerSecond: 2000,
          stats: { latencyMs: { count: 1000, min: 4, stddev: 0.01, histogram: '' } },
        },
      ],
    };
    const tight = {
      ...result,
      results: [{ ...result.results[0]!, stats: { latencyMs: { count: 1000, min: 2, stddev: 0.01, histogram: '' } } }],
    };
    const text = renderGate(compareToBaseline(slower, tight, { maxRegression: 0.05 }));
    assert.match(text, /gate FAILED: 2 metric/);
    assert.match(text, /latencyMs\.p50 .*\+100\.0% worse .*REGRESSED/);
  });
});

describe('bench targets', () => {
  it('refuses a directory holding several engines, naming one to pass', async () => {
    const dir = await tempDir('llmops-target-');
    await writeFile(path.join(dir, 'a.plan'), 'x');
    await writeFile(path.join(dir, 'b.plan'), 'x');
    await assert.rejects(
      resolveTarget(dir),
      (error: unknown) =>
        error instanceof LlmopsError &&
        error.exitCode === 2 &&
        /several TensorRT engines \(a\.plan, b\.plan\)/.test(error.message),
    );
  });

  it('reads the engine TensorRT version from the artifact manifest', async () => {
    const dir = await tempDir('llmops-target-');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'model.plan'), 'x');
    await writeFile(
      path.join(dir, 'llmops.json'),
      JSON.stringify({ backend: 'tensorrt', toolVersions: { tensorrt: { version: '10.3.0.26' } } }),
    );
    const target = await resolveTarget(dir);
    assert.equal(target.kind, 'plan');
    assert.equal(target.kind === 'plan' && target.tensorrtVersion, '10.3.0.26');
  });
});
