import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { compareToBaseline, configKey, gateRows, loadBaseline } from '../../src/bench/gate.js';
import { LlmopsError } from '../../src/errors.js';
import { tempDir } from '../helpers/temp-dir.js';

/** An LLM results document whose latencies are scaled by `factor` (0.8 = 20% faster), with a given spread. */
function llmRun(factor: number, options: { cv?: number; count?: number; batches?: number[] } = {}) {
  const cv = options.cv ?? 0.02;
  const count = options.count ?? 50;
  const latency = (ms: number) => ({
    p50: ms * factor,
    p90: ms * factor * 1.1,
    p95: ms * factor * 1.15,
    p99: ms * factor * 1.2,
    mean: ms * factor,
    max: ms * factor * 1.3,
  });
  const stats = (ms: number) => ({ count, min: ms * factor * 0.9, stddev: ms * factor * cv, histogram: '' });
  return {
    schemaVersion: 1,
    kind: 'engine',
    results: (options.batches ?? [1, 4]).map((batch) => ({
      batch,
      promptTokens: 128,
      genTokens: 64,
      ttftMs: latency(20 * batch),
      tpotMs: latency(5 * batch),
      e2eMs: latency(20 * batch + 63 * 5 * batch),
      decodeTokensPerSecond: 200 / factor,
      throughputTokensPerSecond: (batch * 64) / (((20 * batch + 315 * batch) * factor) / 1000),
      stats: { ttftMs: stats(20 * batch), tpotMs: stats(5 * batch), e2eMs: stats(335 * batch) },
    })),
  };
}

describe('bench gate', () => {
  it('passes when the run equals the baseline', () => {
    const gate = compareToBaseline(llmRun(1), llmRun(1), { maxRegression: 0.05 });
    assert.equal(gate.passed, true);
    assert.equal(gate.regressions.length, 0);
    // 2 configurations × (3 latencies + 2 throughputs)
    assert.equal(gate.comparisons.length, 10);
  });

  it('fails when the baseline was 20% faster, naming every regressed metric', () => {
    const gate = compareToBaseline(llmRun(1), llmRun(0.8), { maxRegression: 0.05 });
    assert.equal(gate.passed, false);
    const regressed = gate.regressions.map((r) => `${r.config} ${r.metric}`).sort();
    assert.ok(regressed.includes('batch=1 promptTokens=128 genTokens=64 tpotMs.p50'));
    assert.ok(regressed.includes('batch=4 promptTokens=128 genTokens=64 decodeTokensPerSecond'));
    const tpot = gate.regressions.find((r) => r.metric === 'tpotMs.p50')!;
    assert.equal(tpot.worseBy, 0.25);
    assert.equal(tpot.better, 'lower');
  });

  it('passes when this run is faster than the baseline', () => {
    assert.equal(compareToBaseline(llmRun(0.8), llmRun(1), { maxRegression: 0.05 }).passed, true);
  });

  it('tolerates a regression within --max-regression', () => {
    assert.equal(compareToBaseline(llmRun(1.04), llmRun(1), { maxRegression: 0.05 }).passed, true);
    assert.equal(compareToBaseline(llmRun(1.06), llmRun(1), { maxRegression: 0.05 }).passed, false);
  });

  it('does not fail on a difference inside the noise of both runs', () => {
    // 20% slower, but with stddev at 100% of the mean over 5 samples the difference is not significant.
    const noisy = compareToBaseline(llmRun(1.2, { cv: 1, count: 5 }), llmRun(1, { cv: 1, count: 5 }), {
      maxRegression: 0.05,
    });
    assert.equal(noisy.passed, true);
    assert.ok(noisy.comparisons.every((c) => c.noise > 0.2));
    // The same slow-down with tight samples is real.
    assert.equal(
      compareToBaseline(llmRun(1.2, { cv: 0.02, count: 50 }), llmRun(1, { cv: 0.02, count: 50 }), {
        maxRegression: 0.05,
      }).passed,
      false,
    );
  });

  it('compares only configurations both runs have and lists the rest', () => {
    const gate = compareToBaseline(llmRun(1, { batches: [1, 16] }), llmRun(1, { batches: [1, 4] }), {
      maxRegression: 0.05,
    });
    assert.deepEqual(gate.unmatched, {
      current: ['batch=16 promptTokens=128 genTokens=64'],
      baseline: ['batch=4 promptTokens=128 genTokens=64'],
    });
    assert.ok(gate.comparisons.every((c) => c.config.startsWith('batch=1 ')));
  });

  it('reads generic results (latencyMs, throughputPerSecond) keyed by shapes', () => {
    const generic = (ms: number) => ({
      kind: 'engine',
      results: [
        {
          batch: 8,
          shapes: { x: [8, 16] },
          latencyMs: { p50: ms, p90: ms, p95: ms, p99: ms, mean: ms, max: ms },
          throughputPerSecond: 8000 / ms,
          stats: { latencyMs: { count: 100, stddev: ms * 0.01 } },
        },
      ],
    });
    const rows = gateRows(generic(1));
    assert.equal(rows[0]!.key, 'batch=8 shapes=x:8x16');
    assert.deepEqual(
      rows[0]!.metrics.map((m) => [m.name, m.better]),
      [
        ['latencyMs.p50', 'lower'],
        ['throughputPerSecond', 'higher'],
      ],
    );
    assert.equal(compareToBaseline(generic(1.25), generic(1), { maxRegression: 0.05 }).passed, false);
  });

  it('keys endpoint-style rows by their load settings', () => {
    assert.equal(configKey({ concurrency: 8, ttftMs: {} }), 'concurrency=8');
  });
});

describe('baseline files', () => {
  const current = llmRun(1);
  async function file(content: string): Promise<string> {
    const dir = await tempDir('llmops-gate-');
    const target = path.join(dir, 'baseline.json');
    await writeFile(target, content);
    return target;
  }
  const usage = (pattern: RegExp) => (error: unknown) =>
    error instanceof LlmopsError && error.exitCode === 2 && pattern.test(error.message);

  it('loads a results file of the same kind', async () => {
    const loaded = await loadBaseline(await file(JSON.stringify(llmRun(0.9))), current);
    assert.equal(gateRows(loaded).length, 2);
  });

  it('refuses a missing file, invalid JSON, another kind, or no common configuration', async () => {
    await assert.rejects(loadBaseline('/nonexistent/baseline.json', current), usage(/cannot be read/));
    await assert.rejects(loadBaseline(await file('{nope'), current), usage(/not valid JSON/));
    await assert.rejects(
      loadBaseline(await file(JSON.stringify({ kind: 'endpoint', runs: [] })), current),
      usage(/holds endpoint results/),
    );
    await assert.rejects(
      loadBaseline(await file(JSON.stringify({ hello: 1 })), current),
      usage(/not an llmops bench results file/),
    );
    await assert.rejects(
      loadBaseline(await file(JSON.stringify(llmRun(1, { batches: [32] }))), current),
      usage(/no configuration in common/),
    );
  });
});
