import { InterruptedError, isLlmopsError } from '../../errors.js';
import { NOISY_SPREAD, percentiles, relativeSpread, type Recorder } from '../stats.js';
import type { LatencySummary, SampleStats } from './types.js';

/** Percentiles for the result and the spread the gate needs, from one recorder. */
export function describe(recorder: Recorder): { latency: LatencySummary; stats: SampleStats; noisy: boolean } {
  const summary = recorder.summary();
  // HDR percentiles are the upper edge of their bucket (3 significant digits), which can sit a hair above the exact max.
  const latency = percentiles(summary);
  for (const key of ['p50', 'p90', 'p95', 'p99'] as const) latency[key] = Math.min(latency[key], summary.max);
  return {
    latency,
    stats: { count: summary.count, min: summary.min, stddev: summary.stddev, histogram: recorder.encode() },
    noisy: summary.count > 1 && relativeSpread(summary) > NOISY_SPREAD,
  };
}

export interface LoopPlan {
  warmup: number;
  iterations?: number;
  durationMs?: number;
}

/**
 * Runs warm-up iterations, then measured ones until the count or the duration is reached. `body` gets whether the
 * iteration is measured; the loop checks the abort signal between iterations only, so a measurement is never cut.
 */
export async function runIterations(
  plan: LoopPlan,
  body: (measured: boolean) => Promise<void>,
  hooks: {
    signal?: AbortSignal;
    onIteration?: (phase: 'warmup' | 'measure', done: number, total: number | null) => void;
  } = {},
): Promise<{ iterations: number; wallMs: number }> {
  for (let index = 0; index < plan.warmup; index += 1) {
    throwIfAborted(hooks.signal);
    await body(false);
    hooks.onIteration?.('warmup', index + 1, plan.warmup);
  }
  const started = performance.now();
  let done = 0;
  const total = plan.durationMs === undefined ? Math.max(1, plan.iterations ?? 1) : null;
  for (;;) {
    throwIfAborted(hooks.signal);
    await body(true);
    done += 1;
    hooks.onIteration?.('measure', done, total);
    if (total !== null ? done >= total : performance.now() - started >= plan.durationMs!) break;
  }
  return { iterations: done, wallMs: performance.now() - started };
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw isLlmopsError(signal.reason) ? signal.reason : new InterruptedError();
}

/**
 * Peak RSS of this process while one configuration runs. `process.resourceUsage().maxRSS` is the peak of the whole
 * process life, so a later, smaller configuration would inherit an earlier one's peak; instead we sample
 * `process.memoryUsage.rss()` (one read of /proc/self/statm) after every step, and on a timer where a run may
 * not block the event loop.
 */
export class RssSampler {
  private peak = 0;
  private timer: NodeJS.Timeout | undefined;

  /** `timer: false` when the caller samples after every step itself (a timer would add its reads to timed steps). */
  start(options: { intervalMs?: number; timer?: boolean } = {}): this {
    this.sample();
    if (options.timer === false) return this;
    this.timer = setInterval(() => this.sample(), options.intervalMs ?? 20);
    this.timer.unref();
    return this;
  }

  sample(): void {
    const rss = process.memoryUsage.rss();
    if (rss > this.peak) this.peak = rss;
  }

  /** Stops sampling; returns the peak in MiB. */
  stop(): number {
    this.sample();
    if (this.timer) clearInterval(this.timer);
    return Math.round((this.peak / 1024 / 1024) * 10) / 10;
  }
}

export function round(value: number, digits = 3): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
