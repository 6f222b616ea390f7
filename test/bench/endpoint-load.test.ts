import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import path from 'node:path';
import { StepAccumulator } from '../../src/bench/endpoint/accumulator.js';
import { mergeEndpointResults } from '../../src/bench/endpoint/merge.js';
import { benchEndpoint, type EndpointBenchOptions } from '../../src/bench/endpoint/run.js';
import { selfTest } from '../../src/bench/endpoint/self-test.js';
import type { EndpointBenchResult, EndpointRun, RequestSample } from '../../src/bench/endpoint/types.js';
import { repoRoot } from '../helpers/cli.js';
import { startServerProcess } from '../helpers/server-process.js';
import { startStreamServer, type ServerStats } from '../helpers/stream-server.js';

/** The stream server in its own process, so its timers never wait on the load generator's event loop. */
async function serverProcess(args: string[]): Promise<{ url: string; stop: () => Promise<void> }> {
  const server = await startServerProcess(path.join(repoRoot, 'scripts/bench/stream-server.mjs'), {
    cwd: repoRoot,
    env: {},
    args,
  });
  return {
    url: server.url,
    stop: async () => {
      server.child.kill('SIGTERM');
      await server.exited;
    },
  };
}

describe('endpoint load generator: measured against a server whose timing is known', () => {
  it('TTFT and ITL p50 within 10% of what the server measured itself at 400 concurrent streams, or the client says why not', async () => {
    // 50 + 2 × 100 ms a request: ~1,600 req/s at 400 streams, well within what the one-process server sustains. The
    // truth is the server's own record (request received → first token written, then the gaps between writes): on a
    // busy machine its timers run late, and a client that reports that lateness is right, not wrong.
    const { measured, server, error, result } = await selfTest({
      concurrency: 400,
      timing: { ttftMs: 50, itlMs: 100, tokens: 3 },
      durationMs: 3000,
      warmupMs: 1000,
    });
    const step = result.runs[0]!;
    assert.equal(step.errors, 0, JSON.stringify(step.errorsByKind));
    assert.ok(measured.requests > 3000, `${measured.requests} requests`);
    const context = `client ${measured.ttftP50Ms}/${measured.itlP50Ms} ms, server ${server.observed.ttftP50Ms}/${server.observed.itlP50Ms} ms, client loop delay p99 ${measured.eventLoopDelayP99Ms} ms`;
    assert.ok(server.observed.ttftP50Ms >= 50 && server.observed.itlP50Ms >= 100, context);
    assert.ok(Math.abs(error.itl) <= 0.1, context);
    // TTFT within 10%, or, on a machine too busy for that (CI runners), the client said its own event loop was in its
    // figures — and its lag accounts for the whole error.
    const warned = result.selfCheck!.warnings.some((w) => /the client's event loop lagged/.test(w));
    const allowedMs = 0.1 * server.observed.ttftP50Ms + (warned ? measured.eventLoopDelayP99Ms : 0);
    assert.ok(Math.abs(measured.ttftP50Ms - server.observed.ttftP50Ms) <= allowedMs, context);
    assert.equal(step.tokenSource, 'usage');
    assert.equal(step.outputTokens, step.requests * 3);
    assert.ok(step.client.cpuMsPerRequest > 0, 'client CPU measured');
  });

  it('counts output tokens from the stream, and says so, when the server sends no usage', async () => {
    const server = await serverProcess(['--tokens', '5', '--tokens-per-chunk', '1', '--no-usage']);
    try {
      const result = await benchEndpoint({
        url: server.url,
        load: { kind: 'concurrency', levels: [2] },
        requests: 10,
        warmupMs: 0,
        maxTokens: 5,
      });
      assert.deepEqual([result.runs[0]!.tokenSource, result.runs[0]!.outputTokens], ['stream', 50]);
    } finally {
      await server.stop();
    }
  });

  it('counts every kind of error exactly, and never crashes on them', async () => {
    const behaviours = [
      'ok',
      'http_429',
      'http_503',
      'reset',
      'midstream',
      'malformed',
      'hang',
      'error_event',
    ] as const;
    const server = await startStreamServer({ tokens: 4, itlMs: 2, behaviours: [...behaviours] });
    try {
      // One request at a time walks the server's script in order: each behaviour exactly twice.
      const result = await benchEndpoint({
        url: server.url,
        load: { kind: 'concurrency', levels: [1] },
        requests: 16,
        warmupMs: 0,
        maxTokens: 4,
        timeoutMs: 400,
      });
      const [step] = result.runs as [EndpointRun];
      assert.equal(step.requests, 16);
      assert.deepEqual(step.errorsByKind, {
        connection: 2,
        http_429: 2,
        http_503: 2,
        malformed_stream: 2,
        stream_closed: 2,
        stream_error: 2,
        timeout: 2,
      });
      assert.equal(step.errors, 14);
      assert.equal(step.latencyMs.count, 2, 'latency only from the successful requests');
      assert.equal(server.stats().requests, 16);
    } finally {
      await server.close();
    }
  });

  it('open loop keeps its schedule while the server stalls (no coordinated omission); a closed loop does not', async () => {
    // Every request arriving between 1.0 s and 2.0 s after the server starts is held until 2.0 s. The server runs in a
    // process of its own, so releasing the held requests at once does not also stall the client's event loop. The two
    // loops run one after the other: side by side, one finishing its step (tens of ms of summary work) would block the
    // other's event loop and make its sends late for a reason that is not the one under test.
    const stall = ['--tokens', '2', '--stall-from', '1000', '--stall-for', '1000'];
    const againstStalledServer = async (load: EndpointBenchOptions['load']) => {
      const server = await serverProcess(stall);
      try {
        const result = await benchEndpoint({ url: server.url, load, durationMs: 3000, warmupMs: 0, maxTokens: 2 });
        const stats = (await (await fetch(`${server.url}/stats`)).json()) as ServerStats;
        return { result, arrivalsInStall: stats.arrivalsMs.filter((t) => t >= 1100 && t < 1900).length };
      } finally {
        await server.stop();
      }
    };
    const open = await againstStalledServer({ kind: 'rate', levels: [50], arrival: 'constant' });
    const closed = await againstStalledServer({ kind: 'concurrency', levels: [2] });
    // 50 req/s × 0.8 s of stall: the open loop still sent its ~40, the closed loop's two workers were stuck.
    const openArrivals = open.arrivalsInStall;
    const closedArrivals = closed.arrivalsInStall;
    assert.ok(openArrivals >= 36 && openArrivals <= 44, `${openArrivals} open-loop arrivals during the stall`);
    assert.ok(closedArrivals <= 2, `${closedArrivals} closed-loop arrivals during the stall`);
    const [step] = open.result.runs as [EndpointRun];
    assert.ok(step.schedule!.late <= 2, `${step.schedule!.late} sends left late`);
    assert.ok(step.schedule!.lagMs.p50 < 2, `schedule lag p50 ${step.schedule!.lagMs.p50} ms`);
    assert.ok(step.schedule!.sent >= 145 && step.schedule!.sent <= 151, `${step.schedule!.sent} sends in 3 s at 50/s`);
    // Requests sent into the stall waited up to a second: the latency tail shows what users saw.
    assert.ok(step.latencyMs.max >= 800, `latency max ${step.latencyMs.max} ms`);
    assert.ok(step.latencyMs.p99 >= 700, `latency p99 ${step.latencyMs.p99} ms`);
  });

  it('a server that goes away mid-sweep: its errors are counted, and the steps after the one that found it gone are not run', async () => {
    const server = await startStreamServer({ tokens: 2, itlMs: 1 });
    setTimeout(() => void server.close(), 700);
    const result = await benchEndpoint({
      url: server.url,
      load: { kind: 'concurrency', levels: [1, 2, 4] },
      durationMs: 1000,
      warmupMs: 0,
      maxTokens: 2,
    });
    assert.deepEqual(
      result.runs.map((run) => run.concurrency),
      [1, 2],
    );
    const [first, second] = result.runs as [EndpointRun, EndpointRun];
    assert.ok(
      first.requests > first.errors && first.errors > 0,
      `first step: ${first.requests} requests, ${JSON.stringify(first.errorsByKind)}`,
    );
    assert.equal(second.errorsByKind.connection, second.requests);
    assert.match(result.stoppedEarly ?? '', /every request at c=2 failed to connect/);
  });

  it('speaks TGI and OpenAI completions, and a users ramp spawns users at the spawn rate', async () => {
    const server = await startStreamServer({ tokens: 3, itlMs: 1, ttftMs: 5 });
    try {
      const tgi = await benchEndpoint({
        url: server.url,
        api: 'tgi',
        load: { kind: 'concurrency', levels: [2] },
        requests: 6,
        warmupMs: 0,
        maxTokens: 3,
      });
      assert.deepEqual(
        [tgi.api, tgi.target, tgi.model, tgi.runs[0]!.errors, tgi.runs[0]!.outputTokens, tgi.runs[0]!.tokenSource],
        ['tgi', `${server.url}/generate_stream`, null, 0, 18, 'usage'],
      );
      const completions = await benchEndpoint({
        url: `${server.url}/v1/completions`,
        load: { kind: 'concurrency', levels: [1] },
        requests: 3,
        warmupMs: 0,
        maxTokens: 3,
      });
      assert.deepEqual(
        [completions.api, completions.model, completions.runs[0]!.outputTokens],
        ['openai-completions', 'stream-test', 9],
      );
      const ramp = await benchEndpoint({
        url: server.url,
        load: { kind: 'users', users: 4, spawnRate: 4 },
        durationMs: 1500,
        warmupMs: 0,
        maxTokens: 3,
      });
      const [step] = ramp.runs as [EndpointRun];
      assert.deepEqual([step.users, step.spawnRate, step.errors], [4, 4, 0]);
      // One user for the first quarter second, all four after 0.75 s.
      assert.ok(
        step.timeline.length >= 1 && Math.max(...step.timeline.map((p) => p.inFlight)) === 4,
        JSON.stringify(step.timeline),
      );
    } finally {
      await server.close();
    }
  });
});

describe('bench merge', () => {
  it('merging two halves of a run gives exactly the percentiles of the whole', async () => {
    const server = await startStreamServer({ tokens: 5, itlMs: 1, ttftMs: 3 });
    const samples: RequestSample[] = [];
    try {
      await benchEndpoint({
        url: server.url,
        load: { kind: 'concurrency', levels: [4] },
        requests: 200,
        warmupMs: 0,
        maxTokens: 5,
        onSample: (s) => samples.push(s),
      });
    } finally {
      await server.close();
    }
    assert.equal(samples.length, 200);
    const resultOf = (part: RequestSample[]): EndpointBenchResult => {
      const accumulator = new StepAccumulator(0, { ttftMs: 1000 });
      for (const s of part) accumulator.add(s, null);
      const metrics = accumulator.metrics(2);
      const step: EndpointRun = {
        concurrency: 4,
        ...metrics,
        metSlo: (metrics.sloAttainment ?? 0) >= 0.9,
        warmup: { durationS: 0, requests: 0 },
        client: { cpuMsPerRequest: 0.1, eventLoopDelayMs: { p50: 0, p99: 1, max: 2 } },
      };
      return {
        schemaVersion: 1,
        kind: 'endpoint',
        target: 'http://x/v1/chat/completions',
        api: 'openai-chat',
        model: 'm',
        load: { kind: 'concurrency', levels: [4] },
        prompts: { source: 'synthetic', tokens: { mean: 8, stddev: 0 }, tokenizer: null, dataset: null, count: 64 },
        maxTokens: 5,
        slo: { ttftMs: 1000 },
        sloAttainment: 0.9,
        runs: [step],
        knee: null,
        capacity: null,
        workers: 1,
        startedAt: '2026-01-01T00:00:00.000Z',
        interrupted: false,
      };
    };
    const whole = resultOf(samples).runs[0]!;
    const merged = mergeEndpointResults([
      { file: 'a.json', result: resultOf(samples.filter((_, i) => i % 2 === 0)) },
      { file: 'b.json', result: resultOf(samples.filter((_, i) => i % 2 === 1)) },
    ]);
    const step = merged.runs[0]!;
    for (const metric of ['ttftMs', 'itlMs', 'tpsPerRequest', 'latencyMs'] as const) {
      const { histogram: _a, ...ours } = step[metric];
      const { histogram: _b, ...theirs } = whole[metric];
      assert.deepEqual(ours, theirs, metric);
    }
    assert.deepEqual(
      [step.requests, step.errors, step.outputTokens, step.sloAttainment],
      [whole.requests, whole.errors, whole.outputTokens, whole.sloAttainment],
    );
    assert.equal(merged.workers, 2);
    assert.equal(merged.capacity?.concurrency, 4);
  });

  it('refuses to merge runs of different endpoints or load levels', () => {
    const base = {
      schemaVersion: 1,
      kind: 'endpoint',
      target: 'http://a/v1/chat/completions',
      api: 'openai-chat',
      runs: [],
      slo: null,
    } as unknown as EndpointBenchResult;
    assert.throws(
      () =>
        mergeEndpointResults([
          { file: 'a', result: base },
          { file: 'b', result: { ...base, target: 'http://b/v1/chat/completions' } },
        ]),
      /b benchmarked/,
    );
    const withRun = { ...base, runs: [{ concurrency: 1 }] } as unknown as EndpointBenchResult;
    assert.throws(
      () =>
        mergeEndpointResults([
          { file: 'a', result: base },
          { file: 'b', result: withRun },
        ]),
      /load levels/,
    );
  });
});
