import type { Capacity, EndpointRun, Knee, Slo } from './types.js';

/** A step that adds less than this much throughput over the previous one has stopped scaling. */
export const KNEE_MIN_THROUGHPUT_GAIN = 0.1;
/** …and is past the knee when its TTFT or latency p50 also grew by more than this. */
export const KNEE_LATENCY_GROWTH = 0.5;

function loadOf(run: EndpointRun): number {
  return run.concurrency ?? run.rate ?? run.users ?? 0;
}

/**
 * The knee of a sweep: the last step before one whose throughput rises less than 10% while its TTFT or latency p50
 * grows more than 50% — where more load buys queueing instead of throughput. Steps are taken in order of load;
 * with fewer than two steps there is no sweep and no knee.
 */
export function findKnee(runs: readonly EndpointRun[]): Knee | null {
  const order = runs
    .map((run, index) => ({ run, index }))
    .filter(({ run }) => run.requests > run.errors)
    .sort((a, b) => loadOf(a.run) - loadOf(b.run));
  if (order.length < 2) return null;
  for (let i = 1; i < order.length; i += 1) {
    const previous = order[i - 1]!.run;
    const current = order[i]!.run;
    const gain = previous.requestsPerSecond > 0 ? current.requestsPerSecond / previous.requestsPerSecond - 1 : Infinity;
    const ttftGrowth = previous.ttftMs.p50 > 0 ? current.ttftMs.p50 / previous.ttftMs.p50 - 1 : 0;
    const latencyGrowth = previous.latencyMs.p50 > 0 ? current.latencyMs.p50 / previous.latencyMs.p50 - 1 : 0;
    if (gain < KNEE_MIN_THROUGHPUT_GAIN && Math.max(ttftGrowth, latencyGrowth) > KNEE_LATENCY_GROWTH) {
      const grew = ttftGrowth >= latencyGrowth ? `TTFT p50 ${pct(ttftGrowth)}` : `latency p50 ${pct(latencyGrowth)}`;
      return knee(
        order[i - 1]!,
        `at ${describeLoad(current)} throughput ${gain >= 0 ? 'rose only' : 'fell'} ${pct(Math.abs(gain))} while ${grew}`,
        true,
      );
    }
  }
  const best = order.reduce((a, b) => (b.run.requestsPerSecond > a.run.requestsPerSecond ? b : a));
  return knee(best, 'throughput still rising at the heaviest step: no knee within the sweep', false);
}

/** Which step, at what load, with what throughput: what a knee and a capacity both quote. */
export function stepFacts(
  run: EndpointRun,
  index: number,
): Pick<Knee, 'index' | 'concurrency' | 'rate' | 'requestsPerSecond' | 'outputTokensPerSecond'> {
  return {
    index,
    ...(run.concurrency !== undefined ? { concurrency: run.concurrency } : {}),
    ...(run.rate !== undefined ? { rate: run.rate } : {}),
    requestsPerSecond: run.requestsPerSecond,
    outputTokensPerSecond: run.outputTokensPerSecond,
  };
}

function knee({ run, index }: { run: EndpointRun; index: number }, reason: string, saturated: boolean): Knee {
  return { ...stepFacts(run, index), reason, saturated };
}

/** Per-replica capacity at the SLO: the step with the highest throughput among those that met it. */
export function findCapacity(runs: readonly EndpointRun[], slo: Slo | null): Capacity | null {
  if (!slo) return null;
  let best: { run: EndpointRun; index: number } | null = null;
  runs.forEach((run, index) => {
    if (run.metSlo && run.requestsPerSecond > 0 && (!best || run.requestsPerSecond > best.run.requestsPerSecond))
      best = { run, index };
  });
  if (!best) return null;
  const { run, index } = best as { run: EndpointRun; index: number };
  return { ...stepFacts(run, index), slo };
}

export function describeLoad(
  run: Pick<EndpointRun, 'concurrency' | 'rate' | 'users'> & { trace?: string | undefined },
): string {
  if (run.concurrency !== undefined) return `concurrency ${run.concurrency}`;
  if (run.trace !== undefined) return `trace (${run.rate ?? 0} req/s mean)`;
  if (run.rate !== undefined) return `${run.rate} req/s`;
  return `${run.users ?? 0} users`;
}

function pct(fraction: number): string {
  return `${Math.round(fraction * 100)}%`;
}
