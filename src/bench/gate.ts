import { usageError } from '../errors.js';
import { readJsonFile } from '../fs/json.js';
import { Recorder } from './stats.js';

/** One number the gate compares, with what it knows about the samples behind it. */
export interface GateMetric {
  name: string;
  better: 'lower' | 'higher';
  value: number;
  /** Standard error of `value` (same unit), from the run's spread and sample count; 0 when unknown. */
  standardError: number;
}

/** One configuration of a results file (a batch × prompt length, a shape set, a concurrency level…). */
export interface GateRow {
  key: string;
  metrics: GateMetric[];
}

export interface GateOptions {
  /** Largest tolerated slow-down as a fraction (0.05 = 5%). */
  maxRegression: number;
  /**
   * How many combined standard errors a difference must exceed to count as real rather than noise.
   * @default 3
   */
  zScore?: number;
}

export interface GateComparison {
  config: string;
  metric: string;
  better: 'lower' | 'higher';
  baseline: number;
  current: number;
  /** Relative change in the bad direction: +0.2 = 20% worse, negative = better. */
  worseBy: number;
  /** Relative size of the combined noise of both runs (z × combined standard error ÷ baseline). */
  noise: number;
  regressed: boolean;
}

export interface GateResult {
  passed: boolean;
  maxRegression: number;
  comparisons: GateComparison[];
  regressions: GateComparison[];
  /** Configurations present in only one of the runs (not compared). */
  unmatched: { current: string[]; baseline: string[] };
}

/** Fields that identify a configuration rather than measure it, in key order. */
const KEY_FIELDS = [
  'batch',
  'promptTokens',
  'genTokens',
  'shapes',
  'concurrency',
  'rate',
  'requestRate',
  'users',
  'scenario',
  'name',
  'inputTokens',
  'outputTokens',
  'maxTokens',
];
const LATENCY_STATS = ['p50', 'mean'];
// The median is what we compare; its standard error is about 1.25 σ/√n for roughly normal samples.
const MEDIAN_SE_FACTOR = 1.2533;

/**
 * The comparable rows of a results document, engine or endpoint: latency objects (`ttftMs`, `tpotMs`, `e2eMs`,
 * `latencyMs`, `itlMs`… with `p50`) compare by median, `…PerSecond` numbers by value. The noise of a latency comes
 * from `stats.<name>.{stddev,count}` when the run recorded it; a throughput inherits the largest relative noise of
 * its row's latencies (it is derived from them).
 */
export function gateRows(document: unknown): GateRow[] {
  return comparableRows(document).map((row) => {
    const metrics: GateMetric[] = [];
    const stats = (row.stats ?? {}) as Record<string, { stddev?: number; count?: number } | undefined>;
    let worstRelativeError = 0;
    for (const [name, value] of Object.entries(row).sort(([a], [b]) => a.localeCompare(b))) {
      if (
        !/Ms$/.test(name) ||
        !value ||
        typeof value !== 'object' ||
        !LATENCY_STATS.every((stat) => typeof (value as Record<string, unknown>)[stat] === 'number')
      )
        continue;
      const p50 = (value as Record<string, number>).p50!;
      const spread = stats[name];
      const standardError =
        spread && typeof spread.stddev === 'number' && typeof spread.count === 'number' && spread.count > 0
          ? (MEDIAN_SE_FACTOR * spread.stddev) / Math.sqrt(spread.count)
          : 0;
      if (p50 > 0) worstRelativeError = Math.max(worstRelativeError, standardError / p50);
      metrics.push({ name: `${name}.p50`, better: 'lower', value: p50, standardError });
    }
    for (const [name, value] of Object.entries(row).sort(([a], [b]) => a.localeCompare(b))) {
      if (/PerSecond$/.test(name) && typeof value === 'number' && Number.isFinite(value)) {
        metrics.push({ name, better: 'higher', value, standardError: worstRelativeError * value });
      }
    }
    return { key: configKey(row), metrics };
  });
}

/** The rows of an engine result (`results`), or of an endpoint result (`runs`) in the same shape. */
function comparableRows(document: unknown): Array<Record<string, unknown>> {
  const { kind, results, runs } = (document ?? {}) as { kind?: unknown; results?: unknown; runs?: unknown };
  if (kind === 'endpoint' && Array.isArray(runs)) return runs.map(endpointRow);
  return Array.isArray(results) ? (results as Array<Record<string, unknown>>) : [];
}

/**
 * An endpoint step as the gate compares it: its load level, TTFT / ITL / latency medians with the spread of their
 * histograms, and its throughputs. Errors and goodput are the SLO's business (`--slo`), not the regression gate's.
 */
function endpointRow(run: Record<string, unknown>): Record<string, unknown> {
  const row: Record<string, unknown> = { concurrency: run.concurrency, rate: run.rate, users: run.users, stats: {} };
  for (const name of ['ttftMs', 'itlMs', 'latencyMs']) {
    const summary = run[name] as { p50?: number; mean?: number; histogram?: unknown } | undefined;
    if (!summary || typeof summary.histogram !== 'string' || !(summary.p50! > 0)) continue;
    const { stddev, count } = Recorder.decode(summary.histogram).summary();
    row[name] = summary;
    (row.stats as Record<string, unknown>)[name] = { stddev, count };
  }
  for (const name of ['requestsPerSecond', 'outputTokensPerSecond']) row[name] = run[name];
  return row;
}

/** A stable, readable name for a configuration: `batch=1 promptTokens=128 genTokens=64`. */
export function configKey(row: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const field of KEY_FIELDS) {
    const value = row[field];
    if (value === undefined || value === null) continue;
    parts.push(`${field}=${keyValueText(value)}`);
  }
  return parts.join(' ') || 'default';
}

/** A key field's value: dims as `8x16`, a map of input shapes as `ids:8x16,mask:8x16` (sorted), a scalar as it is. */
function keyValueText(value: unknown): string {
  if (Array.isArray(value)) return value.join('x');
  if (typeof value === 'object' && value !== null)
    return Object.entries(value)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, dims]) => `${name}:${Array.isArray(dims) ? dims.join('x') : keyValueText(dims)}`)
      .join(',');
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
    ? String(value)
    : JSON.stringify(value);
}

/**
 * Compares a run with a baseline, configuration by configuration. A metric regresses when it is worse by more than
 * `maxRegression` AND the difference is beyond the noise of both runs (z × √(SE₁² + SE₂²)), so a noisy machine does not
 * fail CI on jitter, and a real slow-down with tight samples does.
 */
export function compareToBaseline(current: unknown, baseline: unknown, options: GateOptions): GateResult {
  const z = options.zScore ?? 3;
  const currentRows = gateRows(current);
  const baselineRows = new Map(gateRows(baseline).map((row) => [row.key, row]));
  const comparisons: GateComparison[] = [];
  const matched = new Set<string>();
  for (const row of currentRows) {
    const base = baselineRows.get(row.key);
    if (!base) continue;
    matched.add(row.key);
    const baseMetrics = new Map(base.metrics.map((metric) => [metric.name, metric]));
    for (const metric of row.metrics) {
      const reference = baseMetrics.get(metric.name);
      if (!reference || !(reference.value > 0)) continue;
      const worseBy =
        metric.better === 'lower'
          ? metric.value / reference.value - 1
          : reference.value / Math.max(metric.value, Number.MIN_VALUE) - 1;
      const noise = (z * Math.hypot(metric.standardError, reference.standardError)) / reference.value;
      const difference = Math.abs(metric.value - reference.value) / reference.value;
      comparisons.push({
        config: row.key,
        metric: metric.name,
        better: metric.better,
        baseline: reference.value,
        current: metric.value,
        worseBy: round(worseBy),
        noise: round(noise),
        regressed: worseBy > options.maxRegression && difference > noise,
      });
    }
  }
  const regressions = comparisons.filter((comparison) => comparison.regressed);
  return {
    passed: regressions.length === 0,
    maxRegression: options.maxRegression,
    comparisons,
    regressions,
    unmatched: {
      current: currentRows.map((row) => row.key).filter((key) => !matched.has(key)),
      baseline: [...baselineRows.keys()].filter((key) => !matched.has(key)),
    },
  };
}

/**
 * Reads a baseline results file; it must be the same kind of result as the run (`engine` or `endpoint`) and share at
 * least one configuration with it, or the comparison would silently pass.
 */
export async function loadBaseline(file: string, current: { kind: string }): Promise<unknown> {
  const baseline = await readBaseline(file);
  const kind = (baseline as { kind: string }).kind;
  if (kind !== current.kind)
    throw usageError(`baseline ${file} holds ${kind} results but this run is ${current.kind}`, 'BASELINE_MISMATCH');
  const keys = new Set(gateRows(baseline).map((row) => row.key));
  if (!gateRows(current).some((row) => keys.has(row.key))) {
    throw usageError(`baseline ${file} has no configuration in common with this run`, 'BASELINE_MISMATCH', {
      hint: `baseline has: ${[...keys].join('; ') || 'none'}`,
    });
  }
  return baseline;
}

/** Reads and shape-checks a baseline file; run it before a long benchmark so a bad path fails at once. */
export async function readBaseline(file: string): Promise<unknown> {
  const baseline = await readJsonFile(file, {
    what: 'baseline',
    code: 'BASELINE_INVALID',
    missingCode: 'BASELINE_NOT_FOUND',
    hint: 'pass a results file written by `llmops bench --out`',
  });
  const { kind, results, runs } = (baseline ?? {}) as { kind?: unknown; results?: unknown; runs?: unknown };
  if (typeof kind !== 'string' || !Array.isArray(kind === 'endpoint' ? runs : results)) {
    throw usageError(
      `baseline ${file} is not an llmops bench results file (no kind and results or runs)`,
      'BASELINE_INVALID',
      { hint: 'write one with `llmops bench … --out FILE`' },
    );
  }
  return baseline;
}

function round(value: number): number {
  return Math.round(value * 10000) / 10000;
}
