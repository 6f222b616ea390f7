import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import type { EndpointBenchResult } from '../../src/bench/endpoint/types.js';
import { gateRows, type GateResult } from '../../src/bench/gate.js';
import { Recorder } from '../../src/bench/stats.js';
import { cliPath } from '../helpers/cli.js';
import { startStreamServer, type StreamServer } from '../helpers/stream-server.js';
import { errorLines, llmops } from './cli.js';
import { tempDir } from '../helpers/temp-dir.js';

const quick = ['--concurrency', '2', '--requests', '8', '--warmup', '0', '--max-tokens', '4'];

describe('llmops bench URL', () => {
  let server: StreamServer;
  let dir: string;

  before(async () => {
    server = await startStreamServer({ tokens: 4, ttftMs: 5, itlMs: 1 });
    dir = await tempDir('llmops-endpoint-cli-');
  });
  after(() => server.close());

  it('--json prints one endpoint result document; the table names the step, and progress stays on stderr', async () => {
    const json = await llmops(['bench', server.url, ...quick, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const result = JSON.parse(json.stdout) as EndpointBenchResult;
    assert.deepEqual(
      [result.kind, result.schemaVersion, result.api, result.model, result.runs.length],
      ['endpoint', 1, 'openai-chat', 'stream-test', 1],
    );
    assert.equal(result.runs[0]!.requests, 8);
    const text = await llmops(['bench', server.url, ...quick]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /concurrency 2/);
    assert.match(text.stdout, /TTFT p50/);
    assert.match(text.stderr, /c=2: running/);
  });

  it('--out, --csv (Locust-style stats and per-request rows) and --report are written; existing files need --force', async () => {
    const out = path.join(dir, 'load.json');
    const prefix = path.join(dir, 'load');
    const report = path.join(dir, 'load.html');
    const run = await llmops(['bench', server.url, ...quick, '--out', out, '--csv', prefix, '--report', report]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal((JSON.parse(await readFile(out, 'utf8')) as EndpointBenchResult).runs[0]!.requests, 8);
    const stats = (await readFile(`${prefix}_stats.csv`, 'utf8')).trim().split('\n');
    assert.match(stats[0]!, /^Type,Name,Request Count,Failure Count,Median Response Time/);
    assert.deepEqual(
      stats.slice(1).map((line) => line.split(',')[0]),
      ['POST', 'TTFT', 'ITL', ''],
    );
    assert.equal(stats[1]!.split(',')[2], '8');
    const requests = (await readFile(`${prefix}_requests.csv`, 'utf8')).trim().split('\n');
    assert.equal(requests.length, 9, 'a header and one row per measured request');
    assert.match(requests[1]!, /^c=2,[\d.]+,200,1,,/);
    assert.match(await readFile(report, 'utf8'), /<svg/);
    const again = await llmops(['bench', server.url, ...quick, '--out', out]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /--out .*already exists/);
    assert.equal((await llmops(['bench', server.url, ...quick, '--out', out, '--force'])).code, 0);
  });

  it('an SLO no step meets exits 3 after printing and saving the results; one that is met exits 0 with a capacity', async () => {
    const out = path.join(dir, 'slo.json');
    const missed = await llmops(['bench', server.url, ...quick, '--slo', 'ttft=1ms', '--out', out, '--json']);
    assert.equal(missed.code, 3, missed.stderr);
    assert.match(missed.stderr, /SLO check failed/);
    assert.equal((JSON.parse(missed.stdout) as EndpointBenchResult).capacity, null);
    assert.equal((JSON.parse(await readFile(out, 'utf8')) as EndpointBenchResult).runs[0]!.metSlo, false);
    const met = await llmops(['bench', server.url, ...quick, '--slo', 'ttft=5s,latency=10s', '--json']);
    assert.equal(met.code, 0, met.stderr);
    const result = JSON.parse(met.stdout) as EndpointBenchResult;
    assert.deepEqual([result.capacity?.concurrency, result.runs[0]!.sloAttainment], [2, 1]);
  });

  it('--baseline gates on TTFT, ITL, latency and throughput per load level: a slower server exits 3, the same one 0', async () => {
    const baseline = path.join(dir, 'baseline.json');
    const args = ['--concurrency', '2', '--requests', '40', '--warmup', '0', '--max-tokens', '4'];
    assert.equal((await llmops(['bench', server.url, ...args, '--out', baseline])).code, 0);
    const rows = gateRows(JSON.parse(await readFile(baseline, 'utf8')));
    assert.deepEqual(
      rows.map((row) => row.key),
      ['concurrency=2'],
    );
    assert.deepEqual(
      rows[0]!.metrics.map((m) => m.name),
      ['itlMs.p50', 'latencyMs.p50', 'ttftMs.p50', 'outputTokensPerSecond', 'requestsPerSecond'],
    );
    assert.ok(
      rows[0]!.metrics.every((m) => m.standardError > 0),
      'noise from the histograms',
    );

    const slow = await startStreamServer({ tokens: 4, ttftMs: 60, itlMs: 1 });
    try {
      const regressed = await llmops([
        'bench',
        slow.url,
        ...args,
        '--baseline',
        baseline,
        '--max-regression',
        '10%',
        '--json',
      ]);
      assert.equal(regressed.code, 3, regressed.stderr);
      assert.match(regressed.stderr, /bench gate failed/);
      const gate = (JSON.parse(regressed.stdout) as { gate: GateResult }).gate;
      assert.ok(
        gate.regressions.some((r) => r.metric === 'ttftMs.p50' && r.config === 'concurrency=2'),
        JSON.stringify(gate.regressions),
      );
    } finally {
      await slow.close();
    }
    // Generous threshold: two short runs on a shared machine may differ by a few percent, which is not what this pins.
    const same = await llmops(['bench', server.url, ...args, '--baseline', baseline, '--max-regression', '100%']);
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stdout, /gate passed/);
    const other = await llmops([
      'bench',
      server.url,
      '--concurrency',
      '3',
      '--requests',
      '3',
      '--warmup',
      '0',
      '--baseline',
      baseline,
    ]);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /no configuration in common/);
  });

  it('bad input exits 2 with one line: flags of the model bench, bad values, conflicting load shapes', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['bench', server.url, '--batch', '4'], /--batch does not apply when the target is an endpoint URL/],
      [
        ['bench', server.url, '--baseline', path.join(os.tmpdir(), 'no-such-baseline.json')],
        /baseline .* cannot be read/,
      ],
      [['bench', './some-model', '--concurrency', '4'], /--concurrency does not apply when the target is a model/],
      [['bench', server.url, '--concurrency', '4', '--rate', '5'], /different load shapes/],
      [['bench', server.url, '--slo', 'ttft=fast'], /--slo <spec>.*Expected SLOs/],
      [['bench', server.url, '--warmup', 'soon'], /--warmup.*Expected a duration/],
      [['bench', server.url, '--prompt-tokens', '128,32,1'], /MEAN\[,STDDEV\]/],
      [['bench', server.url, '--concurrency', '0'], /positive integers/],
      [['bench', server.url, '--api', 'grpc'], /Allowed choices/],
      [['bench', server.url, '--header', 'no-colon'], /--header/],
      [['bench', server.url, '--dataset', path.join(os.tmpdir(), 'no-such-dataset.jsonl')], /cannot read --dataset/],
      [['bench', 'http://[::1', ...quick], /is not a URL/],
    ];
    for (const [args, message] of cases) {
      const run = await llmops(args);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message, args.join(' '));
      assert.ok(
        errorLines(run.stderr).length === 1 && !/\n\s+at /.test(run.stderr),
        `one line for ${args.join(' ')}: ${run.stderr}`,
      );
    }
  });

  it('an unreachable server is one clear line and exit 1', async () => {
    const closed = await startStreamServer();
    const url = closed.url;
    await closed.close();
    const run = await llmops(['bench', url, ...quick]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
    assert.equal(errorLines(run.stderr).length, 1);
  });

  it('Ctrl-C prints and saves the partial results and exits 130', async () => {
    const out = path.join(dir, 'partial.json');
    const child = spawn(
      process.execPath,
      [
        cliPath,
        'bench',
        server.url,
        '--concurrency',
        '4',
        '--duration',
        '60s',
        '--warmup',
        '0',
        '--max-tokens',
        '4',
        '--out',
        out,
        '--json',
      ],
      {
        env: { ...process.env, CI: '1', NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 130, stderr);
    const printed = JSON.parse(stdout) as EndpointBenchResult;
    assert.equal(printed.interrupted, true);
    assert.ok(printed.runs[0]!.requests > 10, `${printed.runs[0]!.requests} requests before the interrupt`);
    assert.ok(printed.runs[0]!.durationS < 5, 'the window ends at the interrupt');
    assert.equal(printed.runs[0]!.errors, 0, 'requests cut by the interrupt are not errors of the server');
    assert.deepEqual(JSON.parse(await readFile(out, 'utf8')), printed);
    assert.match(stderr, /interrupted: partial results saved/);
  });

  it('workers of a distributed run each take their share, and bench merge combines them exactly', async () => {
    const files = [path.join(dir, 'w0.json'), path.join(dir, 'w1.json')];
    const runs = await Promise.all(
      files.map((file, index) =>
        llmops([
          'bench',
          server.url,
          '--concurrency',
          '3',
          '--requests',
          '9',
          '--warmup',
          '0',
          '--max-tokens',
          '4',
          '--workers',
          '2',
          '--worker-index',
          String(index),
          '--out',
          file,
        ]),
      ),
    );
    for (const run of runs) assert.equal(run.code, 0, run.stderr);
    const results = await Promise.all(
      files.map(async (file) => JSON.parse(await readFile(file, 'utf8')) as EndpointBenchResult),
    );
    assert.deepEqual(
      results.map((r) => [r.runs[0]!.workerShare, r.runs[0]!.requests, r.worker?.index]),
      [
        [2, 5, 0],
        [1, 4, 1],
      ],
    );
    // A pod log: a stray stderr line before the JSON document must not stop the merge.
    await writeFile(files[1]!, `(node:1) warning: something\n${await readFile(files[1]!, 'utf8')}`);
    const merged = await llmops(['bench', 'merge', ...files, '--json']);
    assert.equal(merged.code, 0, merged.stderr);
    const result = JSON.parse(merged.stdout) as EndpointBenchResult;
    const step = result.runs[0]!;
    assert.deepEqual(
      [result.workers, step.concurrency, step.requests, step.workerShare, result.worker],
      [2, 3, 9, undefined, undefined],
    );
    const union = Recorder.decode(results[0]!.runs[0]!.ttftMs.histogram).merge(
      Recorder.decode(results[1]!.runs[0]!.ttftMs.histogram),
    );
    assert.deepEqual(
      [step.ttftMs.p50, step.ttftMs.p99, step.ttftMs.count],
      [union.percentile(50), union.percentile(99), 9],
    );
    const bad = await llmops(['bench', 'merge', cliPath]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /holds no JSON bench result/);
  });

  it('--emit-k8s-job prints an Indexed Job of workers with the key by Secret reference only', async () => {
    const secret = 'sk-live-do-not-print-4242';
    const run = await llmops(
      [
        'bench',
        server.url,
        '--concurrency',
        '8,32',
        '--duration',
        '60s',
        '--out',
        'x.json',
        '--emit-k8s-job',
        '--workers',
        '4',
        '--image',
        'ghcr.io/acme/llmops:0.1.0',
        '--namespace',
        'llm',
        '--api-key-secret',
        'bench-key:token',
      ],
      { env: { LLMOPS_API_KEY: secret } },
    );
    assert.equal(run.code, 0, run.stderr);
    const job = parse(run.stdout) as {
      kind: string;
      spec: {
        completionMode: string;
        completions: number;
        template: { spec: { containers: Array<{ args: string[]; env: unknown[] }> } };
      };
    };
    assert.deepEqual([job.kind, job.spec.completionMode, job.spec.completions], ['Job', 'Indexed', 4]);
    const container = job.spec.template.spec.containers[0]!;
    assert.deepEqual(container.args, [
      'bench',
      server.url,
      '--concurrency',
      '8,32',
      '--duration',
      '60s',
      '--workers',
      '4',
      '--json',
      '--quiet',
    ]);
    assert.ok(!run.stdout.includes(secret) && !run.stderr.includes(secret), 'the key appears nowhere');
    assert.match(run.stdout, /secretKeyRef/);
    assert.match(run.stderr, /llmops bench merge/);
    const leak = await llmops([
      'bench',
      server.url,
      '--header',
      `Authorization: Bearer ${secret}`,
      '--emit-k8s-job',
      '--workers',
      '2',
      '--image',
      'ghcr.io/acme/llmops:0.1.0',
    ]);
    assert.equal(leak.code, 2);
    assert.ok(!leak.stderr.includes(secret) && !leak.stdout.includes(secret));
    const apiKeyHeader = await llmops([
      'bench',
      server.url,
      '--header',
      `X-Api-Key: ${secret}`,
      '--emit-k8s-job',
      '--workers',
      '2',
      '--image',
      'ghcr.io/acme/llmops:0.1.0',
    ]);
    assert.equal(apiKeyHeader.code, 2);
    assert.match(apiKeyHeader.stderr, /x-api-key header would be written into the Job/);
  });

  it('--csv into a directory that does not exist yet creates it', async () => {
    const prefix = path.join(dir, 'new', 'deeper', 'load');
    const run = await llmops(['bench', server.url, ...quick, '--csv', prefix]);
    assert.equal(run.code, 0, run.stderr);
    assert.ok((await stat(`${prefix}_requests.csv`)) && (await stat(`${prefix}_stats.csv`)));
  });

  it('nothing is left behind when a run fails before it starts', async () => {
    const prefix = path.join(dir, 'never');
    const run = await llmops(['bench', 'http://127.0.0.1:9', ...quick, '--csv', prefix]);
    assert.equal(run.code, 1);
    assert.equal(await stat(`${prefix}_requests.csv`).catch(() => null), null);
  });
});
