import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { dockerRunPlan } from '../../src/proc/docker.js';
import {
  parseExportTimes,
  parseTensorrtVersion,
  parseVersionMismatch,
  parseDeserializeMs,
  trtexecBenchSpec,
} from '../../src/proc/trtexec.js';
import { planShapeSets } from '../../src/bench/engine/tensorrt.js';
import type { GenericBenchResult } from '../../src/bench/engine/types.js';
import { llmops } from './cli.js';
import { installFakeDocker } from './fake-docker.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('trtexec output parsing', () => {
  it('reads the TensorRT version from the banner in both encodings', () => {
    assert.equal(
      parseTensorrtVersion('&&&& RUNNING TensorRT.trtexec [TensorRT v100300] [b26] # trtexec --help'),
      '10.3.0',
    );
    assert.equal(parseTensorrtVersion('&&&& RUNNING TensorRT.trtexec [TensorRT v8601] # trtexec'), '8.6.1');
    assert.equal(parseTensorrtVersion('&&&& RUNNING TensorRT.trtexec [TensorRT v101303] [b9]'), '10.13.3');
    assert.equal(parseTensorrtVersion('[I] TensorRT version: 10.0.1'), '10.0.1');
    assert.equal(parseTensorrtVersion('no banner'), null);
  });

  it('parses the --exportTimes trace of TensorRT 8.2+ and of earlier versions', () => {
    const modern = parseExportTimes(
      JSON.stringify([
        {
          startEnqMs: 1,
          endEnqMs: 1.1,
          startH2dMs: 1,
          endH2dMs: 1.2,
          startComputeMs: 1.2,
          endComputeMs: 3,
          startD2hMs: 3,
          endD2hMs: 3.1,
          h2dMs: 0.2,
          computeMs: 1.8,
          d2hMs: 0.1,
          latencyMs: 2.1,
          endToEndMs: 2.1,
        },
      ]),
    );
    assert.deepEqual(modern, [{ start: 1, end: 3.1, computeStart: 1.2, latencyMs: 2.1, computeMs: 1.8 }]);
    const legacy = parseExportTimes(
      JSON.stringify([
        {
          startInMs: 5,
          endInMs: 5.5,
          startComputeMs: 5.5,
          endComputeMs: 7,
          startOutMs: 7,
          endOutMs: 7.5,
          inMs: 0.5,
          computeMs: 1.5,
          outMs: 0.5,
          latencyMs: 2.5,
          endToEndMs: 2.5,
        },
      ]),
    );
    assert.deepEqual(legacy, [{ start: 5, end: 7.5, computeStart: 5.5, latencyMs: 2.5, computeMs: 1.5 }]);
    assert.throws(() => parseExportTimes('{"a":1}'), /not a JSON array/);
    assert.throws(() => parseExportTimes('[{"computeMs":1}]'), /entry 0 lacks latencyMs/);
  });

  it('recognises TensorRT version-mismatch failures', () => {
    assert.deepEqual(
      parseVersionMismatch(
        'The engine plan file is not compatible with this version of TensorRT, expecting library version 10.3.0.26 got 8.6.1.6, please rebuild.',
      ),
      { runtime: '10.3.0.26', engine: '8.6.1.6' },
    );
    assert.deepEqual(
      parseVersionMismatch('Version tag does not match. Note: Current Version: 238, Serialized Engine Version: 236'),
      { runtime: 'serialization version 238', engine: 'serialization version 236' },
    );
    assert.equal(parseVersionMismatch('[E] Error[4]: out of memory'), null);
    assert.equal(parseDeserializeMs('[I] Engine deserialized in 0.0421 sec.'), 42.1);
  });

  it('builds the docker run plan: engine mounted read-only, trace to a writable mount, exact iteration count', () => {
    const plan = dockerRunPlan({
      ...trtexecBenchSpec({
        image: 'trt:1',
        enginePath: '/a/b/m.plan',
        outDir: '/tmp/o',
        warmupMs: 0,
        iterations: 50,
        shapes: { x: [8, 16] },
      }),
      containerName: 'c',
      user: null,
    });
    assert.deepEqual(plan.argv, [
      'run',
      '--rm',
      '--name',
      'c',
      '--gpus',
      'all',
      '-v',
      '/a/b:/engine:ro',
      '-v',
      '/tmp/o:/out',
      'trt:1',
      'trtexec',
      '--loadEngine=/engine/m.plan',
      '--exportTimes=/out/times.json',
      '--warmUp=0',
      '--iterations=50',
      '--duration=0',
      '--shapes=x:8x16',
    ]);
  });

  it('needs whole input shapes for an engine and applies --batch to their leading dimension', () => {
    assert.deepEqual(planShapeSets({ x: [1, 16] }, [2, 8]), [{ x: [2, 16] }, { x: [8, 16] }]);
    assert.throws(() => planShapeSets({ batch: 8 }, undefined), /a TensorRT engine needs whole input shapes/);
  });
});

describe('bench of a .plan with a fake docker playing trtexec', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let log: string;
  before(async () => {
    dir = await tempDir('llmops-bench-plan-');
    await installFakeDocker(path.join(dir, 'bin'));
    await writeFile(path.join(dir, 'model.plan'), Buffer.from('ftrt-fake-engine'));
    log = path.join(dir, 'docker.log');
    env = {
      PATH: `${path.join(dir, 'bin')}${path.delimiter}${process.env.PATH}`,
      FAKE_DOCKER_LOG: log,
      FAKE_TRT_VERSION: '10.3.0',
      FAKE_TRT_LATENCY_MS: '2',
    };
  });

  it('parses the exported trace: warm-up dropped, latency percentiles, throughput, load time, TensorRT version', async () => {
    const run = await llmops(
      ['bench', path.join(dir, 'model.plan'), '--iterations', '30', '--warmup', '1', '--shape', 'input=4x8', '--json'],
      { env },
    );
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as GenericBenchResult;
    assert.equal(result.mode, 'tensorrt');
    assert.equal(result.loadMs, 42.1);
    assert.equal(result.hardware.tensorrt, '10.3.0');
    const [row] = result.results;
    assert.equal(row!.iterations, 30);
    assert.deepEqual(row!.warmup, { iterations: 1, meanMs: 20 });
    // Latencies cycle 2.0, 2.1, 2.2 ms after the slow first inference, which warm-up removed.
    assert.ok(
      row!.latencyMs.max < 2.3 && row!.latencyMs.p50 >= 2 && row!.latencyMs.p50 <= 2.2,
      JSON.stringify(row!.latencyMs),
    );
    assert.ok(Math.abs(row!.latencyMs.mean - 2.1) < 0.01);
    // 4 items per inference, inferences back to back: 4 / 2.1 ms ≈ 1905 items/s.
    assert.ok(Math.abs(row!.throughputPerSecond - 4000 / 2.1) < 20, String(row!.throughputPerSecond));
    assert.equal(row!.peakRssMb, null);
    assert.equal(row!.peakGpuMemoryMb, 24);
    const argv = (await readFile(log, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as string[])
      .pop()!;
    assert.ok(argv.includes('--loadEngine=/engine/model.plan'));
    assert.ok(argv.includes('--iterations=31'));
    assert.ok(argv.includes('--shapes=input:4x8'));
  });

  it('refuses an engine whose manifest names another TensorRT version, before benchmarking', async () => {
    const artifact = await tempDir('llmops-bench-artifact-');
    await writeFile(path.join(artifact, 'model.plan'), Buffer.from('ftrt'));
    await writeFile(
      path.join(artifact, 'llmops.json'),
      JSON.stringify({ backend: 'tensorrt', tools: { tensorrt: '10.1.0' } }),
    );
    await writeFile(log, '');
    const run = await llmops(['bench', artifact], { env });
    assert.equal(run.code, 2);
    assert.match(
      run.stderr,
      /built with TensorRT 10\.1\.0 but nvcr\.io\/nvidia\/tensorrt:[\w.-]+ has TensorRT 10\.3\.0/,
    );
    const calls = (await readFile(log, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as string[]);
    assert.equal(calls.length, 1);
    assert.ok(calls[0]!.includes('--help'));
  });

  it('runs an artifact engine in the image its manifest says it was built in', async () => {
    const artifact = await tempDir('llmops-bench-artifact-');
    await writeFile(path.join(artifact, 'model.plan'), Buffer.from('ftrt'));
    await writeFile(
      path.join(artifact, 'llmops.json'),
      JSON.stringify({ backend: 'tensorrt', tools: { tensorrt: '10.3.0', image: 'registry.local/trt:custom' } }),
    );
    await writeFile(log, '');
    const run = await llmops(['bench', artifact, '--iterations', '5'], { env });
    assert.equal(run.code, 0, run.stderr);
    const calls = (await readFile(log, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as string[]);
    assert.deepEqual(
      calls.map((argv) => argv[argv.indexOf('trtexec') - 1]),
      ['registry.local/trt:custom', 'registry.local/trt:custom'],
    );
  });

  it('refuses an engine that TensorRT rejects for its version', async () => {
    const run = await llmops(['bench', path.join(dir, 'model.plan')], {
      env: { ...env, FAKE_TRT_ENGINE_VERSION: '10.0.1' },
    });
    assert.equal(run.code, 2);
    assert.equal(run.stderr.trim().split('\n').length, 1);
    assert.match(
      run.stderr,
      /model\.plan was built with TensorRT serialization version 236 but .* has TensorRT serialization version 238/,
    );
  });
});
