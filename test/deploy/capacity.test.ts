import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { parseBenchResult, planCapacity } from '../../src/deploy/capacity.js';
import { exampleConfig, runCli, tempDir, writeConfig } from './helpers.js';

/** An endpoint bench result in the shape `llmops bench URL --out` writes (issue 5). */
function endpointResult(capacity: Record<string, unknown> | null, runs: Record<string, unknown>[] = []) {
  return {
    schemaVersion: 1,
    kind: 'endpoint',
    target: 'http://127.0.0.1:8000',
    api: 'openai-chat',
    runs,
    knee: null,
    capacity,
  };
}

test('replicas.max = ceil(peak × (1 + headroom) / capacity), target from in-flight requests at capacity', () => {
  const input = parseBenchResult(endpointResult({ requestsPerSecond: 7.5, concurrency: 16 }), 'bench.json');
  assert.equal(input.kind, 'endpoint');
  if (input.kind !== 'endpoint') return;
  const plan = planCapacity({
    capacity: input.capacity,
    peakQps: 100,
    headroom: 0.2,
    minReplicas: 2,
    metric: 'queue-depth',
    target: 4,
  });
  // 100 × 1.2 / 7.5 = 16 exactly: no rounding up past an exact fit.
  assert.equal(plan.maxReplicas, 16);
  // 16 in flight / 1.2 = 13.33 → 13.
  assert.equal(plan.target, 13);
  assert.match(
    plan.lines.join('\n'),
    /ceil\(peak 100 req\/s × \(1 \+ headroom 0\.2\) \/ 7\.5 req\/s\) = ceil\(16\) = 16/,
  );

  const odd = planCapacity({
    capacity: input.capacity,
    peakQps: 101,
    headroom: 0.2,
    minReplicas: 2,
    metric: 'queue-depth',
    target: 4,
  });
  assert.equal(odd.maxReplicas, 17, '101 × 1.2 / 7.5 = 16.16 → 17');

  const low = planCapacity({
    capacity: input.capacity,
    peakQps: 5,
    headroom: 0,
    minReplicas: 3,
    metric: 'gpu-utilization',
    target: 70,
  });
  assert.equal(low.maxReplicas, 3, 'never below replicas.min');
  assert.equal(low.target, 70, 'a percentage target is kept: the bench does not measure it');
});

test("in-flight requests come from the capacity run when the capacity omits them (concurrency, then Little's law)", () => {
  const runs = [
    { concurrency: 8, requestsPerSecond: 4.2, latencyMs: { mean: 1900 } },
    { concurrency: 32, requestsPerSecond: 9.6, latencyMs: { mean: 3300 } },
  ];
  const fromRun = parseBenchResult(endpointResult({ requestsPerSecond: 9.6 }, runs), 'b.json');
  assert.equal(fromRun.kind === 'endpoint' && fromRun.capacity.inFlight, 32);
  const little = parseBenchResult(
    endpointResult({ requestsPerSecond: 2 }, [{ rate: 2, requestsPerSecond: 2, latencyMs: { mean: 2500 } }]),
    'b.json',
  );
  assert.equal(little.kind === 'endpoint' && little.capacity.inFlight, 5);
});

test('a result without a capacity, or not a bench result, is refused with the reason', () => {
  assert.throws(
    () => parseBenchResult(endpointResult(null), 'b.json'),
    /no per-replica capacity \(`capacity\.requestsPerSecond`\)/,
  );
  assert.throws(() => parseBenchResult(endpointResult({ requestsPerSecond: 0 }), 'b.json'), /no per-replica capacity/);
  assert.throws(() => parseBenchResult({ kind: 'engine' }, 'e.json'), /no positive `loadMs`/);
  assert.throws(() => parseBenchResult({ hello: 1 }, 'x.json'), /expected "endpoint" or "engine"/);
  const engine = parseBenchResult({ schemaVersion: 1, kind: 'engine', loadMs: 84250.5, results: [] }, 'e.json');
  assert.deepEqual(engine, { kind: 'engine', load: { file: 'e.json', loadMs: 84250.5 } });
});

test('llmops deploy --from-bench: the plan and its arithmetic are printed and applied; engine load time sizes the startup probe', async () => {
  const dir = await tempDir();
  await writeConfig(dir, exampleConfig({ strategy: 'baked', extra: { probes: { modelLoadSeconds: 30 } } }));
  const endpoint = path.join(dir, 'endpoint.json');
  const engine = path.join(dir, 'engine.json');
  await writeFile(endpoint, JSON.stringify(endpointResult({ requestsPerSecond: 7.5, concurrency: 16 })));
  await writeFile(engine, JSON.stringify({ schemaVersion: 1, kind: 'engine', loadMs: 84250, results: [] }));

  const run = runCli(['deploy', '-o', 'yaml', '--from-bench', endpoint, '--from-bench', engine, '--peak-qps', '101'], {
    cwd: dir,
  });
  assert.equal(run.status, 0, run.stderr);
  assert.match(
    run.stderr,
    /replicas\.max = ceil\(peak 101 req\/s × \(1 \+ headroom 0\.2\) \/ 7\.5 req\/s\) = ceil\(16\.16\) = 17/,
  );
  assert.match(run.stderr, /target queue depth = max\(1, floor\(16 in flight/);
  assert.match(run.stdout, /maxReplicaCount: 17/);
  assert.match(run.stdout, /threshold: "13"/);
  // 84.25 s → 85 s load, above the configured 30 s; budget 2 × 85 = 170 s → 17 checks of 10 s.
  assert.match(run.stdout, /startupProbe:\n\s+failureThreshold: 17\n/);
  assert.match(run.stderr, /startup probe: 17 × 10 s = 170 s/);
  // A measured load never lowers the budget: with the default 300 s load, a local 85 s load keeps 2 × 300 s.
  await writeConfig(dir, exampleConfig({ strategy: 'baked' }));
  const kept = runCli(['deploy', '-o', 'yaml', '--from-bench', engine], { cwd: dir });
  assert.equal(kept.status, 0, kept.stderr);
  assert.match(kept.stdout, /startupProbe:\n\s+failureThreshold: 60\n/);
  await writeConfig(dir, exampleConfig({ strategy: 'baked', extra: { probes: { modelLoadSeconds: 30 } } }));

  const json = runCli(
    ['--json', 'deploy', '--from-bench', endpoint, '--peak-qps', '101', '--out', path.join(dir, 'k8s')],
    { cwd: dir },
  );
  assert.equal(json.status, 0, json.stderr);
  const doc = JSON.parse(json.stdout) as {
    capacityPlan: { maxReplicas: number; target: number; capacityPerReplica: number };
  };
  assert.deepEqual(
    [doc.capacityPlan.maxReplicas, doc.capacityPlan.target, doc.capacityPlan.capacityPerReplica],
    [17, 13, 7.5],
  );

  const noPeak = runCli(['deploy', '-o', 'yaml', '--from-bench', endpoint], { cwd: dir });
  assert.equal(noPeak.status, 2);
  assert.match(noPeak.stderr, /--peak-qps/);
  await writeFile(endpoint, JSON.stringify(endpointResult(null)));
  const noCapacity = runCli(['deploy', '-o', 'yaml', '--from-bench', endpoint, '--peak-qps', '10'], { cwd: dir });
  assert.equal(noCapacity.status, 2);
  assert.match(noCapacity.stderr, /no per-replica capacity/);
});
