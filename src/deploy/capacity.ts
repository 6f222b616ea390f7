import type { AutoscalingMetric } from '../config/deploy.js';
import { usageError } from '../errors.js';
import { readJsonFile } from '../fs/json.js';

/** What deploy takes from an endpoint bench result (`llmops bench URL --out`). */
export interface EndpointCapacity {
  file: string;
  /** Highest requests/s one replica served while meeting every SLO. */
  requestsPerSecond: number;
  /** Requests in flight at that load (the sweep step's concurrency, or Little's law from its latency), when known. */
  inFlight: number | null;
  /** How inFlight was found, for the printed plan. */
  inFlightSource: string | null;
}

/** What deploy takes from an engine bench result (`llmops bench MODEL --out`). */
export interface EngineLoad {
  file: string;
  loadMs: number;
}

export type BenchInput = { kind: 'endpoint'; capacity: EndpointCapacity } | { kind: 'engine'; load: EngineLoad };

/**
 * Reads a bench result JSON and keeps what deploy needs. Tolerant of extra fields and of schema versions it does not
 * know, strict about the numbers it uses: a missing or non-positive capacity is an error that says how to get one.
 */
export async function readBenchResult(file: string): Promise<BenchInput> {
  const data = await readJsonFile(file, {
    what: 'bench result',
    code: 'BENCH_RESULT_INVALID',
    hint: 'write it with `llmops bench … --out FILE`',
  });
  return parseBenchResult(data, file);
}

export function parseBenchResult(data: unknown, file: string): BenchInput {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw usageError(`bench result ${file} is not a JSON object`, 'BENCH_RESULT_INVALID');
  }
  const result = data as Record<string, unknown>;
  if (result.kind === 'engine') {
    const loadMs = result.loadMs;
    if (typeof loadMs !== 'number' || !Number.isFinite(loadMs) || loadMs <= 0) {
      throw usageError(
        `engine bench result ${file} has no positive \`loadMs\`, got ${JSON.stringify(loadMs)}`,
        'BENCH_RESULT_INVALID',
      );
    }
    return { kind: 'engine', load: { file, loadMs } };
  }
  if (result.kind !== 'endpoint') {
    throw usageError(
      `bench result ${file} has \`kind\` ${JSON.stringify(result.kind)}; expected "endpoint" or "engine"`,
      'BENCH_RESULT_INVALID',
    );
  }
  const capacity = result.capacity as Record<string, unknown> | null | undefined;
  const rps = capacity?.requestsPerSecond;
  if (typeof rps !== 'number' || !Number.isFinite(rps) || rps <= 0) {
    throw usageError(
      `endpoint bench result ${file} has no per-replica capacity (\`capacity.requestsPerSecond\`): no run met every SLO, or the bench ran without --slo`,
      'BENCH_NO_CAPACITY',
      { hint: 'rerun `llmops bench URL --concurrency 1,4,16,64 --slo ttft=500ms,…` against one replica' },
    );
  }
  const runs = Array.isArray(result.runs) ? (result.runs as Record<string, unknown>[]) : [];
  const inFlight = inFlightAtCapacity(capacity!, runs, rps);
  return { kind: 'endpoint', capacity: { file, requestsPerSecond: rps, ...inFlight } };
}

function inFlightAtCapacity(
  capacity: Record<string, unknown>,
  runs: Record<string, unknown>[],
  rps: number,
): { inFlight: number | null; inFlightSource: string | null } {
  if (isPositive(capacity.concurrency))
    return { inFlight: capacity.concurrency, inFlightSource: 'capacity.concurrency' };
  // The run the capacity came from: the one whose throughput it quotes.
  const run = runs.find(
    (r) => typeof r.requestsPerSecond === 'number' && Math.abs(r.requestsPerSecond - rps) <= 1e-9 * Math.max(1, rps),
  );
  if (run && isPositive(run.concurrency))
    return { inFlight: run.concurrency, inFlightSource: 'concurrency of the capacity run' };
  const mean = (run?.latencyMs as Record<string, unknown> | undefined)?.mean;
  if (isPositive(mean))
    return {
      inFlight: (rps * mean) / 1000,
      inFlightSource: "Little's law: capacity × mean latency of the capacity run",
    };
  return { inFlight: null, inFlightSource: null };
}

function isPositive(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}

export interface CapacityPlanInput {
  capacity: EndpointCapacity;
  peakQps: number;
  headroom: number;
  minReplicas: number;
  metric: AutoscalingMetric;
  /** The configured target, kept where the bench says nothing about the metric. */
  target: number;
}

export interface CapacityPlan {
  peakQps: number;
  headroom: number;
  capacityPerReplica: number;
  maxReplicas: number;
  minReplicas: number;
  target: number;
  /** The arithmetic, one line per derived number, as printed. */
  lines: string[];
}

/**
 * replicas.max = ceil(peak × (1 + headroom) / capacity). For queue-depth the target becomes the in-flight requests at
 * which one replica serves capacity / (1 + headroom), so replicas are added before any reaches its SLO limit.
 */
export function planCapacity(input: CapacityPlanInput): CapacityPlan {
  const { capacity, peakQps, headroom } = input;
  const needed = (peakQps * (1 + headroom)) / capacity.requestsPerSecond;
  // Guard against 3.0000000000000004 becoming 4.
  const maxFromPeak = Math.max(1, Math.ceil(needed - 1e-9));
  const lines = [
    `capacity per replica at SLO: ${fmt(capacity.requestsPerSecond)} req/s (${capacity.file})`,
    `replicas.max = ceil(peak ${fmt(peakQps)} req/s × (1 + headroom ${fmt(headroom)}) / ${fmt(capacity.requestsPerSecond)} req/s) = ceil(${fmt(needed)}) = ${maxFromPeak}`,
  ];
  let maxReplicas = maxFromPeak;
  if (input.minReplicas > maxReplicas) {
    maxReplicas = input.minReplicas;
    lines.push(`replicas.max raised to replicas.min = ${input.minReplicas}`);
  }
  let target = input.target;
  if (input.metric === 'queue-depth' && capacity.inFlight !== null) {
    const raw = capacity.inFlight / (1 + headroom);
    target = Math.max(1, Math.floor(raw + 1e-9));
    lines.push(
      `target queue depth = max(1, floor(${fmt(capacity.inFlight)} in flight at capacity [${capacity.inFlightSource}] / (1 + ${fmt(headroom)}))) = ${target}`,
    );
  } else {
    lines.push(`target ${fmt(target)} kept from config: the bench result does not measure ${input.metric}`);
  }
  return {
    peakQps,
    headroom,
    capacityPerReplica: capacity.requestsPerSecond,
    maxReplicas,
    minReplicas: input.minReplicas,
    target,
    lines,
  };
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toFixed(3)));
}
