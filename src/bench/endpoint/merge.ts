import { usageError } from '../../errors.js';
import { Recorder } from '../stats.js';
import { metricSummary, round } from './accumulator.js';
import { findCapacity, findKnee } from './saturation.js';
import { clientSelfCheck } from './self-check.js';
import type {
  EndpointBenchResult,
  EndpointRun,
  MetricSummary,
  TimelinePoint,
  TokenCountCheck,
  TurnMetrics,
} from './types.js';

const METRICS = ['ttftMs', 'itlMs', 'tpsPerRequest', 'latencyMs'] as const;

function levelKey(run: EndpointRun): string {
  if (run.concurrency !== undefined) return `concurrency ${run.concurrency}`;
  if (run.rate !== undefined) return `rate ${run.rate}`;
  return `users ${run.users ?? 0}`;
}

function mergeSummaries(summaries: MetricSummary[]): MetricSummary {
  const recorder = new Recorder();
  for (const summary of summaries) recorder.merge(Recorder.decode(summary.histogram));
  return metricSummary(recorder);
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/**
 * Combines the results of workers that loaded one endpoint at the same time (a distributed run). Counts and rates add
 * up; percentiles come from the union of the workers' HDR histograms, so they are those of one run that saw every
 * request — not averages of percentiles. Runs are matched by load level; every result must have the same levels.
 */
export function mergeEndpointResults(
  inputs: Array<{ file: string; result: EndpointBenchResult }>,
): EndpointBenchResult {
  if (inputs.length === 0)
    throw usageError('nothing to merge', 'MERGE_EMPTY', { hint: 'llmops bench merge A.json B.json …' });
  const [first, ...rest] = inputs as [
    { file: string; result: EndpointBenchResult },
    ...Array<{ file: string; result: EndpointBenchResult }>,
  ];
  const levels = first.result.runs.map(levelKey);
  for (const { file, result } of rest) {
    if (result.api !== first.result.api || result.target !== first.result.target) {
      throw usageError(
        `${file} benchmarked ${result.api} at ${result.target}, ${first.file} ${first.result.api} at ${first.result.target}`,
        'MERGE_MISMATCH',
        {
          hint: 'merge only the workers of one run',
        },
      );
    }
    const theirs = result.runs.map(levelKey);
    if (theirs.join('|') !== levels.join('|')) {
      throw usageError(
        `${file} has load levels [${theirs.join(', ')}], ${first.file} [${levels.join(', ')}]`,
        'MERGE_MISMATCH',
        { hint: 'merge only the workers of one run' },
      );
    }
    if (JSON.stringify(result.slo) !== JSON.stringify(first.result.slo))
      throw usageError(`${file} was run with other SLOs than ${first.file}`, 'MERGE_MISMATCH');
  }
  const results = inputs.map(({ result }) => result);
  const runs = levels.map((_, index) =>
    mergeRuns(
      results.map((result) => result.runs[index]!),
      first.result.sloAttainment,
    ),
  );
  // A worker's repeat intervals are its own: they do not add up across workers, so the merged run has none.
  const { worker: _worker, repeat: _repeat, ...base } = first.result;
  return {
    ...base,
    runs,
    knee: findKnee(runs),
    capacity: findCapacity(runs, first.result.slo),
    selfCheck: clientSelfCheck(runs),
    workers: sum(results.map((result) => result.workers)),
    startedAt: results.map((result) => result.startedAt).sort()[0]!,
    interrupted: results.some((result) => result.interrupted),
  };
}

function mergeRuns(runs: EndpointRun[], attainment: number): EndpointRun {
  const [first] = runs as [EndpointRun, ...EndpointRun[]];
  const requests = sum(runs.map((run) => run.requests));
  const errorsByKind: Record<string, number> = {};
  for (const run of runs)
    for (const [kind, count] of Object.entries(run.errorsByKind))
      errorsByKind[kind] = (errorsByKind[kind] ?? 0) + count;
  const weighted = (value: (run: EndpointRun) => number) =>
    requests > 0 ? sum(runs.map((run) => value(run) * run.requests)) / requests : 0;
  const sources = new Set(runs.filter((run) => run.requests > run.errors).map((run) => run.tokenSource));
  const withSlo = first.sloAttainment !== null;
  const sloAttainment = withSlo ? round(weighted((run) => run.sloAttainment ?? 0)) : null;
  const schedules = runs.map((run) => run.schedule).filter((schedule) => schedule !== undefined);
  const promptTokens = runs.every((run) => run.promptTokens === null)
    ? null
    : sum(runs.map((run) => run.promptTokens ?? 0));
  // A scrape is of the server, not of one worker's share: each worker's samples are kept in its own file, not merged.
  const { workerShare: _share, interrupted: _interrupted, schedule: _schedule, scrape: _scrape, ...level } = first;
  return {
    ...level,
    requests,
    errors: sum(runs.map((run) => run.errors)),
    errorsByKind: Object.fromEntries(Object.entries(errorsByKind).sort(([a], [b]) => a.localeCompare(b))),
    // Workers ran side by side: the window is the longest of theirs, and their rates add up.
    durationS: Math.max(...runs.map((run) => run.durationS)),
    requestsPerSecond: round(sum(runs.map((run) => run.requestsPerSecond))),
    outputTokensPerSecond: round(sum(runs.map((run) => run.outputTokensPerSecond))),
    ...Object.fromEntries(METRICS.map((metric) => [metric, mergeSummaries(runs.map((run) => run[metric]))])),
    goodput: withSlo ? round(sum(runs.map((run) => run.goodput ?? 0))) : null,
    sloAttainment,
    metSlo: sloAttainment === null ? null : sloAttainment >= attainment,
    outputTokens: sum(runs.map((run) => run.outputTokens)),
    promptTokens,
    tokenSource: sources.size === 1 ? [...sources][0]! : sources.size === 0 ? first.tokenSource : 'mixed',
    ...(runs.some((run) => run.turns) ? { turns: mergeTurns(runs.map((run) => run.turns ?? [])) } : {}),
    ...(runs.every((run) => run.tokenCounts)
      ? { tokenCounts: mergeTokenCounts(runs.map((run) => run.tokenCounts!)) }
      : {}),
    ...(schedules.length > 0
      ? {
          schedule: {
            sent: sum(schedules.map((s) => s.sent)),
            late: sum(schedules.map((s) => s.late)),
            lagMs: mergeSummaries(schedules.map((s) => s.lagMs)),
            // Each worker's gaps are its own; their union is another process, so the CV does not merge.
            interArrivalCv: null,
          },
        }
      : {}),
    warmup: {
      durationS: Math.max(...runs.map((run) => run.warmup.durationS)),
      requests: sum(runs.map((run) => run.warmup.requests)),
    },
    client: {
      cpuMsPerRequest: round(weighted((run) => run.client.cpuMsPerRequest)),
      // Each worker's event loop is its own: the worst one says whether any measurement was bent by its client.
      eventLoopDelayMs: {
        p50: Math.max(...runs.map((run) => run.client.eventLoopDelayMs.p50)),
        p99: Math.max(...runs.map((run) => run.client.eventLoopDelayMs.p99)),
        max: Math.max(...runs.map((run) => run.client.eventLoopDelayMs.max)),
      },
    },
    timeline: mergeTimelines(runs.map((run) => run.timeline)),
    ...(runs.some((run) => run.interrupted) ? { interrupted: true } : {}),
  };
}

/** Per-turn figures of several workers: counts add up, percentiles come from the union of the histograms. */
function mergeTurns(perWorker: TurnMetrics[][]): TurnMetrics[] {
  const length = Math.max(0, ...perWorker.map((turns) => turns.length));
  return Array.from({ length }, (_, i) => {
    const turns = perWorker.map((worker) => worker[i]).filter((turn): turn is TurnMetrics => turn !== undefined);
    return {
      turn: i + 1,
      requests: sum(turns.map((t) => t.requests)),
      errors: sum(turns.map((t) => t.errors)),
      ttftMs: mergeSummaries(turns.map((t) => t.ttftMs)),
      latencyMs: mergeSummaries(turns.map((t) => t.latencyMs)),
    };
  });
}

/** Adds the workers' counts; the total discrepancy is recomputed from each worker's usage total and its own. */
function mergeTokenCounts(counts: TokenCountCheck[]): TokenCountCheck {
  const usage = sum(counts.map((c) => (c.compared > 0 ? c.usageTokens : 0)));
  const client = sum(
    counts.map((c) => (c.compared > 0 && c.totalDiscrepancy !== null ? c.usageTokens * (1 + c.totalDiscrepancy) : 0)),
  );
  const tokenizer = counts.every((c) => c.tokenizerTokens === null)
    ? null
    : sum(counts.map((c) => c.tokenizerTokens ?? 0));
  const compared = sum(counts.map((c) => c.compared));
  return {
    requestsWithUsage: sum(counts.map((c) => c.requestsWithUsage)),
    usageTokens: sum(counts.map((c) => c.usageTokens)),
    tokenizerTokens: tokenizer,
    streamEvents: sum(counts.map((c) => c.streamEvents)),
    comparedWith: tokenizer === null ? 'events' : 'tokenizer',
    compared,
    disagreeing: sum(counts.map((c) => c.disagreeing)),
    totalDiscrepancy: compared > 0 && usage > 0 ? Math.round(((client - usage) / usage) * 10_000) / 10_000 : null,
    maxAbsDifference: Math.max(...counts.map((c) => c.maxAbsDifference)),
    maxAbsDiscrepancy: Math.max(...counts.map((c) => c.maxAbsDiscrepancy)),
  };
}

/** Adds the workers' per-second buckets; the per-second p50s (charts only) become completion-weighted means. */
function mergeTimelines(timelines: TimelinePoint[][]): TimelinePoint[] {
  const length = Math.max(0, ...timelines.map((timeline) => timeline.length));
  return Array.from({ length }, (_, t) => {
    const points = timelines
      .map((timeline) => timeline[t])
      .filter((point): point is TimelinePoint => point !== undefined);
    const weightedP50 = (value: (point: TimelinePoint) => number | null) => {
      const known = points.filter((point) => value(point) !== null && point.completed > point.errors);
      const weight = sum(known.map((point) => point.completed - point.errors));
      return weight > 0
        ? round(sum(known.map((point) => value(point)! * (point.completed - point.errors))) / weight)
        : null;
    };
    return {
      t,
      completed: sum(points.map((point) => point.completed)),
      errors: sum(points.map((point) => point.errors)),
      outputTokens: sum(points.map((point) => point.outputTokens)),
      inFlight: sum(points.map((point) => point.inFlight)),
      ttftP50Ms: weightedP50((point) => point.ttftP50Ms),
      latencyP50Ms: weightedP50((point) => point.latencyP50Ms),
    };
  });
}

/**
 * Reads one worker's result: a results file, or a pod log holding the `--json` document after stray lines (a
 * Kubernetes log interleaves stderr). Refuses what is not an endpoint bench result.
 */
export function parseEndpointResult(text: string, file: string): EndpointBenchResult {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    const start = text.search(/^\{/m);
    const end = text.lastIndexOf('}');
    try {
      data = start === -1 ? undefined : JSON.parse(text.slice(start, end + 1));
    } catch {
      data = undefined;
    }
    if (data === undefined)
      throw usageError(`${file} holds no JSON bench result`, 'MERGE_INVALID', {
        hint: 'give files written by `llmops bench URL --out FILE` or `--json`',
      });
  }
  const result = data as Partial<EndpointBenchResult>;
  if (result?.kind !== 'endpoint' || !Array.isArray(result.runs)) {
    throw usageError(
      `${file} is not an endpoint bench result (kind ${JSON.stringify(result?.kind)})`,
      'MERGE_INVALID',
      { hint: 'bench merge combines `llmops bench URL` results' },
    );
  }
  for (const run of result.runs) {
    for (const metric of METRICS) {
      if (typeof run[metric]?.histogram !== 'string')
        throw usageError(`${file}: a run has no ${metric} histogram to merge`, 'MERGE_INVALID');
    }
  }
  return result as EndpointBenchResult;
}
