import type { EndpointRun } from './types.js';

/** One load tried by the search, in the order tried. */
export interface FindMaxStep {
  /** Index into runs. */
  index: number;
  level: number;
  metSlo: boolean;
  sloAttainment: number | null;
}

/** The highest load meeting the SLO, found by bisection between `low` and `high` (`--find-max`). */
export interface FindMax {
  variable: 'concurrency' | 'rate';
  low: number;
  high: number;
  /** The search stops when the bracket is this narrow, relative to its upper end (concurrency: or one apart). */
  tolerance: number;
  /** The highest load tried that met the SLO; null when even `low` missed it. */
  limit: number | null;
  /** The lowest load tried that missed it, above the limit; null when `high` met it. */
  firstMiss: number | null;
  reason: string;
  steps: FindMaxStep[];
}

/**
 * Bisection on load: yields the next level to measure and is told whether it met the SLO. Tries `low`, then `high`,
 * then halves the bracket [highest met, lowest missed] until it is within `tolerance` of its upper end (for
 * concurrency, until the two are one apart). Assumes, as every SLO search does, that a heavier load never does better.
 */
export function* bisectLoad(
  variable: FindMax['variable'],
  low: number,
  high: number,
  tolerance: number,
): Generator<number, void, boolean> {
  if (!(yield low)) return;
  if (yield high) return;
  let met = low;
  let missed = high;
  const narrow = () =>
    variable === 'concurrency'
      ? missed - met <= 1 || missed - met <= tolerance * missed
      : missed - met <= tolerance * missed;
  while (!narrow()) {
    const mid =
      variable === 'concurrency' ? Math.floor((met + missed) / 2) : Math.round(((met + missed) / 2) * 1000) / 1000;
    if (mid <= met || mid >= missed) break;
    if (yield mid) met = mid;
    else missed = mid;
  }
}

/** What the search found, from the runs it made (in the order it made them). */
export function summarizeFindMax(
  variable: FindMax['variable'],
  low: number,
  high: number,
  tolerance: number,
  runs: readonly EndpointRun[],
): FindMax {
  const steps: FindMaxStep[] = runs.map((run, index) => ({
    index,
    level: (variable === 'concurrency' ? run.concurrency : run.rate) ?? 0,
    metSlo: run.metSlo === true,
    sloAttainment: run.sloAttainment,
  }));
  const met = steps.filter((step) => step.metSlo).map((step) => step.level);
  const limit = met.length > 0 ? Math.max(...met) : null;
  const misses = steps
    .filter((step) => !step.metSlo && (limit === null || step.level > limit))
    .map((step) => step.level);
  const firstMiss = misses.length > 0 ? Math.min(...misses) : null;
  const unit = variable === 'concurrency' ? 'concurrency' : 'req/s';
  const interrupted = runs.some((run) => run.interrupted);
  let reason: string;
  if (limit === null) reason = `even the lower bound (${unit} ${low}) missed the SLO`;
  else if (firstMiss === null)
    reason = `the upper bound (${unit} ${high}) met the SLO: the limit is at or above it; raise the bound`;
  else
    reason = `${unit} ${limit} met the SLO and ${firstMiss} missed it${interrupted ? ' (interrupted before the search narrowed further)' : ''}`;
  return { variable, low, high, tolerance, limit, firstMiss, reason, steps };
}
