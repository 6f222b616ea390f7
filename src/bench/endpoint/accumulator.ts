import { Recorder } from '../stats.js';
import { meetsSlo, requestRates } from './slo.js';
import type {
  EndpointRun,
  MetricSummary,
  RequestSample,
  Slo,
  TokenCountCheck,
  TokenSource,
  TurnMetrics,
} from './types.js';

/**
 * A Recorder's summary with its histogram, as results carry it. Percentiles and max are at bucket resolution (3 significant digits), so a
 * merged result equals the whole run's.
 */
export function metricSummary(recorder: Recorder): MetricSummary {
  const at = (p: number) => recorder.percentile(p);
  const mean = recorder.count === 0 ? 0 : recorder.summary().mean;
  return {
    count: recorder.count,
    p50: at(50),
    p90: at(90),
    p95: at(95),
    p99: at(99),
    mean,
    max: recorder.bucketMax,
    histogram: recorder.encode(),
  };
}

/** What a step's accumulator measures: the part of a run's record that comes from its requests. */
export type StepMetrics = Pick<
  EndpointRun,
  | 'requests'
  | 'errors'
  | 'errorsByKind'
  | 'durationS'
  | 'requestsPerSecond'
  | 'outputTokensPerSecond'
  | 'ttftMs'
  | 'itlMs'
  | 'tpsPerRequest'
  | 'latencyMs'
  | 'goodput'
  | 'sloAttainment'
  | 'outputTokens'
  | 'promptTokens'
  | 'tokenSource'
  | 'tokenCounts'
  | 'timeline'
  | 'turns'
>;

/** Sums a step's per-request token counts and compares each request's usage with the client's own count. */
class TokenCounts {
  private requestsWithUsage = 0;
  private usageTokens = 0;
  private tokenizerTokens: number | null = null;
  private streamEvents = 0;
  private compared = 0;
  private disagreeing = 0;
  private comparedUsage = 0;
  private comparedClient = 0;
  private maxAbsDifference = 0;
  private maxAbsDiscrepancy = 0;

  add(counts: NonNullable<RequestSample['tokenCounts']>): void {
    this.streamEvents += counts.events;
    if (counts.tokenizer !== null) this.tokenizerTokens = (this.tokenizerTokens ?? 0) + counts.tokenizer;
    if (counts.usage === null) return;
    this.requestsWithUsage += 1;
    this.usageTokens += counts.usage;
    const client = counts.tokenizer ?? counts.events;
    this.compared += 1;
    this.comparedUsage += counts.usage;
    this.comparedClient += client;
    const difference = Math.abs(client - counts.usage);
    if (difference > 0) this.disagreeing += 1;
    this.maxAbsDifference = Math.max(this.maxAbsDifference, difference);
    this.maxAbsDiscrepancy = Math.max(
      this.maxAbsDiscrepancy,
      counts.usage > 0 ? difference / counts.usage : difference > 0 ? 1 : 0,
    );
  }

  summary(): TokenCountCheck {
    return {
      requestsWithUsage: this.requestsWithUsage,
      usageTokens: this.usageTokens,
      tokenizerTokens: this.tokenizerTokens,
      streamEvents: this.streamEvents,
      comparedWith: this.tokenizerTokens === null ? 'events' : 'tokenizer',
      compared: this.compared,
      disagreeing: this.disagreeing,
      totalDiscrepancy:
        this.compared > 0 && this.comparedUsage > 0
          ? round((this.comparedClient - this.comparedUsage) / this.comparedUsage, 4)
          : null,
      maxAbsDifference: this.maxAbsDifference,
      maxAbsDiscrepancy: round(this.maxAbsDiscrepancy, 4),
    };
  }
}

interface Bucket {
  completed: number;
  errors: number;
  outputTokens: number;
  inFlight: number;
  ttft: Recorder;
  latency: Recorder;
}

/**
 * Everything one step measures, in constant memory per request: HDR histograms and counters, never a list of samples.
 * Two populations, on purpose: latency statistics cover the requests *sent* in the measured window (each followed to
 * its end), while throughput counts the requests *completed* in it — so neither the warm-up's requests nor the drain
 * after the window bends the other.
 */
export class StepAccumulator {
  private readonly ttft = new Recorder();
  private readonly itl = new Recorder();
  private readonly tps = new Recorder();
  private readonly latency = new Recorder();
  private requests = 0;
  private errors = 0;
  private readonly errorsByKind: Record<string, number> = {};
  private meetingSlo = 0;
  private outputTokens = 0;
  private promptTokens: number | null = null;
  private readonly tokenSources = new Set<TokenSource>();
  private readonly tokenCounts = new TokenCounts();
  private readonly turns: Array<{ requests: number; errors: number; ttft: Recorder; latency: Recorder }> = [];
  private completedInWindow = 0;
  private tokensInWindow = 0;
  private goodInWindow = 0;
  private readonly buckets: Bucket[] = [];

  constructor(
    /** performance.now() when the measured window starts. */
    readonly windowStartMs: number,
    private readonly slo: Slo | null,
  ) {}

  /** Takes a finished request; `windowEndMs` is null while the window is still open (every completion is inside it). */
  add(sample: RequestSample, windowEndMs: number | null): void {
    const good = this.slo !== null && meetsSlo(sample, this.slo);
    if (sample.startMs >= this.windowStartMs && (windowEndMs === null || sample.startMs <= windowEndMs))
      this.addStats(sample, good);
    if (sample.endMs >= this.windowStartMs && (windowEndMs === null || sample.endMs <= windowEndMs)) {
      this.completedInWindow += 1;
      if (sample.ok) this.tokensInWindow += sample.outputTokens;
      if (good) this.goodInWindow += 1;
      const bucket = this.bucket(sample.endMs);
      bucket.completed += 1;
      if (sample.ok) {
        bucket.outputTokens += sample.outputTokens;
        bucket.latency.record(sample.endMs - sample.startMs);
        if (sample.ttftMs !== null) bucket.ttft.record(sample.ttftMs);
      } else bucket.errors += 1;
    }
  }

  /** TTFT p50 so far, for live progress. */
  liveTtftP50(): number | null {
    return this.ttft.count > 0 ? this.ttft.summary().p50 : null;
  }

  /** Requests in flight at a moment of the window (sampled by the load driver). */
  sampleInFlight(nowMs: number, inFlight: number): void {
    if (nowMs < this.windowStartMs) return;
    const bucket = this.bucket(nowMs);
    bucket.inFlight = Math.max(bucket.inFlight, inFlight);
  }

  private addStats(sample: RequestSample, good: boolean): void {
    this.requests += 1;
    if (sample.turn !== undefined) {
      while (this.turns.length < sample.turn)
        this.turns.push({ requests: 0, errors: 0, ttft: new Recorder(), latency: new Recorder() });
      const turn = this.turns[sample.turn - 1]!;
      turn.requests += 1;
      if (!sample.ok) turn.errors += 1;
      else {
        if (sample.ttftMs !== null) turn.ttft.record(sample.ttftMs);
        turn.latency.record(sample.endMs - sample.startMs);
      }
    }
    if (good) this.meetingSlo += 1;
    if (!sample.ok) {
      this.errors += 1;
      const kind = sample.error ?? 'unknown';
      this.errorsByKind[kind] = (this.errorsByKind[kind] ?? 0) + 1;
      return;
    }
    if (sample.ttftMs !== null) this.ttft.record(sample.ttftMs);
    for (const gap of sample.itlGapsMs) this.itl.record(gap);
    const { tps } = requestRates(sample);
    if (tps !== null) this.tps.record(tps);
    this.latency.record(sample.endMs - sample.startMs);
    this.outputTokens += sample.outputTokens;
    if (sample.promptTokens !== null) this.promptTokens = (this.promptTokens ?? 0) + sample.promptTokens;
    this.tokenSources.add(sample.tokenSource);
    if (sample.tokenCounts) this.tokenCounts.add(sample.tokenCounts);
  }

  private bucket(atMs: number): Bucket {
    const index = Math.max(0, Math.floor((atMs - this.windowStartMs) / 1000));
    while (this.buckets.length <= index)
      this.buckets.push({
        completed: 0,
        errors: 0,
        outputTokens: 0,
        inFlight: 0,
        ttft: new Recorder(),
        latency: new Recorder(),
      });
    return this.buckets[index]!;
  }

  /** The step's metrics over a window of `durationS` seconds. */
  metrics(durationS: number): StepMetrics {
    const perSecond = (n: number) => (durationS > 0 ? round(n / durationS) : 0);
    const sources = [...this.tokenSources];
    return {
      requests: this.requests,
      errors: this.errors,
      errorsByKind: Object.fromEntries(Object.entries(this.errorsByKind).sort(([a], [b]) => a.localeCompare(b))),
      durationS: round(durationS),
      requestsPerSecond: perSecond(this.completedInWindow),
      outputTokensPerSecond: perSecond(this.tokensInWindow),
      ttftMs: metricSummary(this.ttft),
      itlMs: metricSummary(this.itl),
      tpsPerRequest: metricSummary(this.tps),
      latencyMs: metricSummary(this.latency),
      goodput: this.slo ? perSecond(this.goodInWindow) : null,
      sloAttainment: this.slo ? (this.requests > 0 ? round(this.meetingSlo / this.requests) : 0) : null,
      outputTokens: this.outputTokens,
      promptTokens: this.promptTokens,
      tokenSource: sources.length === 1 ? sources[0]! : sources.length === 0 ? 'stream' : 'mixed',
      tokenCounts: this.tokenCounts.summary(),
      ...(this.turns.length > 0
        ? {
            turns: this.turns.map((t, i): TurnMetrics => ({
              turn: i + 1,
              requests: t.requests,
              errors: t.errors,
              ttftMs: metricSummary(t.ttft),
              latencyMs: metricSummary(t.latency),
            })),
          }
        : {}),
      timeline: this.buckets.slice(0, Math.max(1, Math.ceil(durationS))).map((bucket, t) => ({
        t,
        completed: bucket.completed,
        errors: bucket.errors,
        outputTokens: bucket.outputTokens,
        inFlight: bucket.inFlight,
        ttftP50Ms: bucket.ttft.count > 0 ? bucket.ttft.summary().p50 : null,
        latencyP50Ms: bucket.latency.count > 0 ? bucket.latency.summary().p50 : null,
      })),
    };
  }
}

export function round(value: number, digits = 3): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
