import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LlmopsError } from '../../errors.js';
import { round } from './accumulator.js';
import type { LoopbackObserved, LoopbackTiming } from './loopback-server.js';
import type { StepProgress } from './load.js';
import { benchEndpoint } from './run.js';
import { SEND_LAG_WARN_MS } from './self-check.js';
import type { EndpointBenchResult } from './types.js';

/** The self-test passes when TTFT and ITL p50 are within this fraction of the server's true timing… */
export const SELF_TEST_MAX_ERROR = 0.05;

export interface SelfTestOptions {
  /** Streams in flight. @default 400 */
  concurrency?: number;
  /** @default 10 s */
  durationMs?: number;
  /** @default 2 s */
  warmupMs?: number;
  /** The loopback server's timing. @default { ttftMs: 50, itlMs: 20, tokens: 8 } */
  timing?: LoopbackTiming;
  signal?: AbortSignal;
  onProgress?: (progress: StepProgress) => void;
}

export interface SelfTestResult {
  schemaVersion: 1;
  kind: 'endpoint-self-test';
  /** What the loopback server was told to do, and what it observed itself doing in the measured window. */
  server: LoopbackTiming & { observed: LoopbackObserved };
  concurrency: number;
  measured: {
    requests: number;
    errors: number;
    requestsPerSecond: number;
    ttftP50Ms: number;
    itlP50Ms: number;
    sendLagP99Ms: number;
    cpuMsPerRequest: number;
    eventLoopDelayP99Ms: number;
  };
  /**
   * The client's error: (client p50 − the server's own p50) ÷ the server's, for TTFT and ITL — what passes or fails.
   * `vsNominal`: the same against the timing the server was told (which includes its own timers running late).
   */
  error: { ttft: number; itl: number; vsNominal: { ttft: number; itl: number } };
  thresholds: { error: number; sendLagP99Ms: number };
  passed: boolean;
  /** Why it did not pass, one line each; empty when it passed. */
  warnings: string[];
  /** The full load-test result the figures come from. */
  result: EndpointBenchResult;
}

/**
 * `llmops bench --self-test`: the load generator measured against a loopback server (a process of its own) whose
 * TTFT and ITL are known, at the chosen load. Says how far off the client's own figures are and how late its sends
 * left — the error every other run on this machine at this load carries.
 */
export async function selfTest(options: SelfTestOptions = {}): Promise<SelfTestResult> {
  const timing = options.timing ?? { ttftMs: 50, itlMs: 20, tokens: 8 };
  const concurrency = options.concurrency ?? 400;
  const server = await startLoopbackServer(timing);
  let reset: Promise<unknown> | undefined;
  try {
    const result = await benchEndpoint({
      url: server.url,
      load: { kind: 'concurrency', levels: [concurrency] },
      durationMs: options.durationMs ?? 10_000,
      warmupMs: options.warmupMs ?? 2000,
      maxTokens: timing.tokens,
      ...(options.signal ? { signal: options.signal } : {}),
      onProgress: (progress) => {
        // The server forgets the warm-up when the client does, so both sides measure the same window.
        if (!progress.warmingUp && reset === undefined)
          reset = fetch(`${server.url}/stats/reset`, { method: 'POST' }).catch(() => undefined);
        options.onProgress?.(progress);
      },
    });
    await reset;
    const observed = (await (await fetch(`${server.url}/stats`)).json()) as LoopbackObserved;
    const run = result.runs[0];
    if (!run) throw new LlmopsError('the self-test measured nothing', 'SELF_TEST_EMPTY');
    const relative = (measured: number, truth: number) => (truth > 0 ? round((measured - truth) / truth, 4) : 0);
    const ttftError = relative(run.ttftMs.p50, observed.ttftP50Ms);
    const itlError = relative(run.itlMs.p50, observed.itlP50Ms);
    const nominal = { ttft: relative(run.ttftMs.p50, timing.ttftMs), itl: relative(run.itlMs.p50, timing.itlMs) };
    const lagP99 = run.schedule?.lagMs.p99 ?? 0;
    const warnings: string[] = [];
    const pct = (x: number) => `${round(x * 100, 1)}%`;
    if (run.errors > 0)
      warnings.push(
        `${run.errors} of ${run.requests} requests to the loopback server failed (${Object.keys(run.errorsByKind).join(', ')})`,
      );
    if (Math.abs(ttftError) > SELF_TEST_MAX_ERROR)
      warnings.push(
        `TTFT p50 ${run.ttftMs.p50} ms against the server's own ${observed.ttftP50Ms} ms: ${pct(ttftError)} off, more than ${pct(SELF_TEST_MAX_ERROR)}`,
      );
    if (Math.abs(itlError) > SELF_TEST_MAX_ERROR)
      warnings.push(
        `ITL p50 ${run.itlMs.p50} ms against the server's own ${observed.itlP50Ms} ms: ${pct(itlError)} off, more than ${pct(SELF_TEST_MAX_ERROR)}`,
      );
    // Not the client's fault, but it makes every figure on this machine suspect: say so.
    if (
      relative(observed.ttftP50Ms, timing.ttftMs) > SELF_TEST_MAX_ERROR ||
      relative(observed.itlP50Ms, timing.itlMs) > SELF_TEST_MAX_ERROR
    ) {
      warnings.push(
        `the loopback server itself ran late (TTFT p50 ${observed.ttftP50Ms} ms for ${timing.ttftMs}, ITL p50 ${observed.itlP50Ms} ms for ${timing.itlMs}): the machine is too busy for this load`,
      );
    }
    if (lagP99 > SEND_LAG_WARN_MS) warnings.push(`send lag p99 ${lagP99} ms, above ${SEND_LAG_WARN_MS} ms`);
    return {
      schemaVersion: 1,
      kind: 'endpoint-self-test',
      server: { ...timing, observed },
      concurrency,
      measured: {
        requests: run.requests,
        errors: run.errors,
        requestsPerSecond: run.requestsPerSecond,
        ttftP50Ms: run.ttftMs.p50,
        itlP50Ms: run.itlMs.p50,
        sendLagP99Ms: lagP99,
        cpuMsPerRequest: run.client.cpuMsPerRequest,
        eventLoopDelayP99Ms: run.client.eventLoopDelayMs.p99,
      },
      error: { ttft: ttftError, itl: itlError, vsNominal: nominal },
      thresholds: { error: SELF_TEST_MAX_ERROR, sendLagP99Ms: SEND_LAG_WARN_MS },
      passed: warnings.length === 0 && !result.interrupted,
      warnings,
      result,
    };
  } finally {
    await server.stop();
  }
}

async function startLoopbackServer(timing: LoopbackTiming): Promise<{ url: string; stop: () => Promise<void> }> {
  const entry = fileURLToPath(new URL('./loopback-server.js', import.meta.url));
  const child = spawn(
    process.execPath,
    [entry, '--ttft', String(timing.ttftMs), '--itl', String(timing.itlMs), '--tokens', String(timing.tokens)],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(new LlmopsError(`the self-test's loopback server did not start: ${stderr.trim()}`, 'SELF_TEST_SERVER')),
      15_000,
    );
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = / on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new LlmopsError(`the self-test's loopback server exited: ${stderr.trim()}`, 'SELF_TEST_SERVER'));
    });
  });
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
