import { round } from './accumulator.js';
import { levelKey, REPEATED_METRICS } from './repeat.js';
import type { EndpointBenchResult, EndpointRun } from './types.js';

/** What `bench compare` puts side by side, per load level present in both runs. */
const COMPARED = [
  'requestsPerSecond',
  'outputTokensPerSecond',
  'ttftMs.p50',
  'ttftMs.p99',
  'itlMs.p50',
  'itlMs.p99',
  'latencyMs.p50',
  'latencyMs.p99',
  'errorRate',
] as const;

export interface ComparisonRow {
  level: string;
  metric: string;
  a: number | null;
  b: number | null;
  /** (b − a) ÷ a; null when either is missing or a is 0. */
  change: number | null;
  /** With --repeat intervals on both sides: whether the 95% intervals are apart. Null without them. */
  significant: boolean | null;
  aCi95?: [number, number];
  bCi95?: [number, number];
}

export interface EndpointComparison {
  schemaVersion: 1;
  kind: 'endpoint-compare';
  a: { file: string; target: string; startedAt: string; repeats: number };
  b: { file: string; target: string; startedAt: string; repeats: number };
  rows: ComparisonRow[];
  /** Load levels only one of the runs has. */
  onlyInA: string[];
  onlyInB: string[];
}

/** Side by side, metric by metric, for the load levels two endpoint results share; repeat means where they have them. */
export function compareEndpointResults(
  a: { file: string; result: EndpointBenchResult },
  b: { file: string; result: EndpointBenchResult },
): EndpointComparison {
  const levelsA = a.result.runs.map(levelKey);
  const levelsB = b.result.runs.map(levelKey);
  const rows: ComparisonRow[] = [];
  for (const level of levelsA.filter((l) => levelsB.includes(l))) {
    const runA = a.result.runs.find((run) => levelKey(run) === level)!;
    const runB = b.result.runs.find((run) => levelKey(run) === level)!;
    for (const metric of COMPARED) {
      const sideA = side(a.result, runA, level, metric);
      const sideB = side(b.result, runB, level, metric);
      const change =
        sideA.value !== null && sideB.value !== null && sideA.value !== 0
          ? round((sideB.value - sideA.value) / sideA.value, 4)
          : null;
      rows.push({
        level,
        metric,
        a: sideA.value,
        b: sideB.value,
        change,
        significant: sideA.ci && sideB.ci ? sideA.ci[1] < sideB.ci[0] || sideB.ci[1] < sideA.ci[0] : null,
        ...(sideA.ci ? { aCi95: sideA.ci } : {}),
        ...(sideB.ci ? { bCi95: sideB.ci } : {}),
      });
    }
  }
  const facts = (file: string, result: EndpointBenchResult) => ({
    file,
    target: result.target,
    startedAt: result.startedAt,
    repeats: result.repeat?.count ?? 1,
  });
  return {
    schemaVersion: 1,
    kind: 'endpoint-compare',
    a: facts(a.file, a.result),
    b: facts(b.file, b.result),
    rows,
    onlyInA: levelsA.filter((l) => !levelsB.includes(l)),
    onlyInB: levelsB.filter((l) => !levelsA.includes(l)),
  };
}

/** A metric of one side: the repeat mean and interval when the run was repeated, else the run's own value. */
function side(
  result: EndpointBenchResult,
  run: EndpointRun,
  level: string,
  metric: string,
): { value: number | null; ci?: [number, number] } {
  const repeated = result.repeat?.levels.find((l) => l.level === level)?.metrics[metric];
  if (repeated && result.repeat!.count > 1) return { value: repeated.mean, ci: repeated.ci95 };
  const value = REPEATED_METRICS[metric]!(run);
  return { value: value === null ? null : round(value, 4) };
}
