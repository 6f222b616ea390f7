import * as hdr from 'hdr-histogram-js';

/** Percentile summary in milliseconds; the vocabulary every llmops result uses. */
export interface Summary {
  count: number;
  min: number;
  max: number;
  mean: number;
  stddev: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
}

// Values are recorded in microseconds: HDR histograms store integers, and 3 significant digits of µs
// resolve sub-millisecond decode steps while staying tiny when serialized.
const MICROS_PER_MS = 1000;

/**
 * An HDR histogram of durations (or any positive quantity) recorded in milliseconds.
 * Mergeable and serializable, so distributed runs combine exactly (percentiles of the union).
 */
export class Recorder {
  private readonly histogram: hdr.Histogram;

  constructor(histogram?: hdr.Histogram) {
    this.histogram =
      histogram ??
      hdr.build({
        lowestDiscernibleValue: 1,
        highestTrackableValue: 2,
        numberOfSignificantValueDigits: 3,
        autoResize: true,
      });
  }

  record(valueMs: number): void {
    if (!Number.isFinite(valueMs) || valueMs < 0) return;
    this.histogram.recordValue(Math.max(1, Math.round(valueMs * MICROS_PER_MS)));
  }

  get count(): number {
    return this.histogram.totalCount;
  }

  merge(other: Recorder): this {
    this.histogram.add(other.histogram);
    return this;
  }

  summary(): Summary {
    const h = this.histogram;
    if (h.totalCount === 0) return { count: 0, min: 0, max: 0, mean: 0, stddev: 0, p50: 0, p90: 0, p95: 0, p99: 0 };
    const ms = (micros: number) => round(micros / MICROS_PER_MS);
    return {
      count: h.totalCount,
      min: ms(h.minNonZeroValue),
      max: ms(h.maxValue),
      mean: ms(h.mean),
      stddev: ms(h.stdDeviation),
      p50: ms(h.getValueAtPercentile(50)),
      p90: ms(h.getValueAtPercentile(90)),
      p95: ms(h.getValueAtPercentile(95)),
      p99: ms(h.getValueAtPercentile(99)),
    };
  }

  /**
   * The value at a percentile (0–100) in ms, as HDR reports it: the upper edge of its bucket (3 significant digits).
   * Merged and decoded histograms know values only by bucket, so this is what stays equal under `bench merge`.
   */
  percentile(p: number): number {
    return this.histogram.totalCount === 0 ? 0 : round(this.histogram.getValueAtPercentile(p) / MICROS_PER_MS);
  }

  /** The largest value, at bucket resolution like `percentile` (the exact maximum does not survive encoding). */
  get bucketMax(): number {
    return this.percentile(100);
  }

  /** Compressed base64 (the HdrHistogram interchange format), for results files and `bench merge`. */
  encode(): string {
    return hdr.encodeIntoCompressedBase64(this.histogram);
  }

  static decode(encoded: string): Recorder {
    const histogram = hdr.decodeFromCompressedBase64(encoded, 32, false);
    // Decoded histograms are sized to their own values; merging a wider one into them must grow, not throw.
    histogram.autoResize = true;
    return new Recorder(histogram);
  }
}

/** The statistics of a latency printed in results, in column order: percentiles, mean and max. */
export const LATENCY_STATISTICS = ['p50', 'p90', 'p95', 'p99', 'mean', 'max'] as const;
export type LatencyStatistic = (typeof LATENCY_STATISTICS)[number];

/** The subset of a summary printed in results: percentiles, mean and max. */
export function percentiles(summary: Summary): Pick<Summary, LatencyStatistic> {
  const { p50, p90, p95, p99, mean, max } = summary;
  return { p50, p90, p95, p99, mean, max };
}

/** Coefficient of variation (stddev / mean); above ~0.1 a result is noisy enough to say so. */
export function relativeSpread(summary: Summary): number {
  return summary.mean > 0 ? summary.stddev / summary.mean : 0;
}

export const NOISY_SPREAD = 0.1;

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
