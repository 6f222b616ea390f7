import { round } from './accumulator.js';
import { describeLoad } from './saturation.js';
import type { EndpointBenchResult, EndpointRun } from './types.js';

/** The figures `--repeat` summarizes per load level, and `bench compare` compares: name → value of a run. */
export const REPEATED_METRICS: Record<string, (run: EndpointRun) => number | null> = {
  requestsPerSecond: (run) => run.requestsPerSecond,
  outputTokensPerSecond: (run) => run.outputTokensPerSecond,
  'ttftMs.p50': (run) => (run.ttftMs.count > 0 ? run.ttftMs.p50 : null),
  'ttftMs.p99': (run) => (run.ttftMs.count > 0 ? run.ttftMs.p99 : null),
  'itlMs.p50': (run) => (run.itlMs.count > 0 ? run.itlMs.p50 : null),
  'itlMs.p99': (run) => (run.itlMs.count > 0 ? run.itlMs.p99 : null),
  'latencyMs.p50': (run) => (run.latencyMs.count > 0 ? run.latencyMs.p50 : null),
  'latencyMs.p99': (run) => (run.latencyMs.count > 0 ? run.latencyMs.p99 : null),
  'tpsPerRequest.p50': (run) => (run.tpsPerRequest.count > 0 ? run.tpsPerRequest.p50 : null),
  goodput: (run) => run.goodput,
  sloAttainment: (run) => run.sloAttainment,
  errorRate: (run) => (run.requests > 0 ? run.errors / run.requests : null),
};

/** Mean and 95% confidence interval of one metric over repeated runs (Student's t: the repeats are few). */
export interface RepeatedMetric {
  mean: number;
  /** [low, high]; the mean itself when there is one value. */
  ci95: [number, number];
  stddev: number;
  values: number[];
}

export interface RepeatSummary {
  count: number;
  /** Per load level present in every repetition: each metric's mean and interval. */
  levels: Array<{ level: string; metrics: Record<string, RepeatedMetric> }>;
}

/** Two-sided 97.5% quantiles of Student's t for 1…30 degrees of freedom; beyond, the normal's 1.96. */
const T_975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11,
  2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

export function meanInterval(values: number[]): RepeatedMetric {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const stddev = n > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  const half = n > 1 ? (T_975[n - 2] ?? 1.96) * (stddev / Math.sqrt(n)) : 0;
  return {
    mean: round(mean, 4),
    ci95: [round(mean - half, 4), round(mean + half, 4)],
    stddev: round(stddev, 4),
    values,
  };
}

export function levelKey(run: EndpointRun): string {
  return describeLoad(run);
}

/** Mean and 95% interval per metric and load level over the results of `--repeat N` (levels in the first's order). */
export function summarizeRepeats(results: readonly EndpointBenchResult[]): RepeatSummary {
  const levels = results[0]?.runs.map(levelKey) ?? [];
  return {
    count: results.length,
    levels: levels
      .filter((level) => results.every((result) => result.runs.some((run) => levelKey(run) === level)))
      .map((level) => {
        const runs = results.map((result) => result.runs.find((run) => levelKey(run) === level)!);
        const metrics: Record<string, RepeatedMetric> = {};
        for (const [name, value] of Object.entries(REPEATED_METRICS)) {
          const values = runs.map(value);
          if (values.every((v): v is number => v !== null)) metrics[name] = meanInterval(values);
        }
        return { level, metrics };
      }),
  };
}
