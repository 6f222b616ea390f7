import { performance } from 'node:perf_hooks';
import { usageError } from '../../errors.js';
import { round } from './accumulator.js';

/**
 * Gauges worth putting beside client latency, from the servers and exporters people run: queue depth, running batch,
 * KV-cache use, GPU utilization, memory and power. A `/metrics` page has hundreds of series; these are kept.
 */
const KNOWN_GAUGES = new Set([
  'vllm:num_requests_waiting',
  'vllm:num_requests_running',
  'vllm:num_requests_swapped',
  'vllm:gpu_cache_usage_perc',
  'vllm:kv_cache_usage_perc',
  'tgi_queue_size',
  'tgi_batch_current_size',
  'tgi_batch_current_max_tokens',
  'sglang:num_queue_reqs',
  'sglang:num_running_reqs',
  'sglang:token_usage',
  'llmops_queue_depth',
  'llmops_batch_size',
  'llmops_requests_in_flight',
  'DCGM_FI_DEV_GPU_UTIL',
  'DCGM_FI_DEV_POWER_USAGE',
  'DCGM_FI_DEV_FB_USED',
  'DCGM_FI_DEV_MEM_COPY_UTIL',
  'DCGM_FI_DEV_GPU_TEMP',
  'nv_gpu_utilization',
  'nv_gpu_power_usage',
  'nv_inference_pending_request_count',
]);
/** Series whose values are watts: their sum over GPUs is the power tokens per joule divides by. */
const POWER = /POWER_USAGE|power_usage/;
/** More series than this from one source are dropped (a query can return one per pod and GPU). */
const MAX_SERIES_PER_SOURCE = 64;

/** A scraped source: a Prometheus text page (`/metrics`) or a Prometheus query API URL (`/api/v1/query?query=…`). */
export interface ScrapeSource {
  url: string;
  kind: 'metrics' | 'query';
  /** As saved: without credentials. */
  display: string;
}

export function parseScrapeSource(url: string): ScrapeSource {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw usageError(`--scrape \`${url}\` is not a URL`, 'INVALID_SCRAPE', {
      hint: 'e.g. --scrape http://localhost:8000/metrics or http://prometheus:9090/api/v1/query?query=…',
    });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw usageError(`--scrape needs an http(s) URL, got \`${parsed.protocol}\``, 'INVALID_SCRAPE');
  const kind = /\/api\/v1\/query$/.test(parsed.pathname) ? 'query' : 'metrics';
  if (kind === 'query' && !parsed.searchParams.get('query'))
    throw usageError(`--scrape ${parsed.origin}${parsed.pathname} has no ?query=`, 'INVALID_SCRAPE');
  parsed.username = '';
  parsed.password = '';
  return { url, kind, display: parsed.toString() };
}

/** Per step: the samples of every series on one time axis, and energy figures when power was among them. */
export interface ScrapeSeries {
  intervalS: number;
  /** Seconds since the step's measured window began, one per sample (negative during the warm-up). */
  t: number[];
  series: Array<{ source: string; name: string; values: Array<number | null> }>;
  /** Scrapes that failed (unreachable, not 200, unparsable), over all sources. */
  failures: number;
  /** Mean total power (W) over the samples in the measured window; null without a power series. */
  meanPowerW: number | null;
  /** Output tokens per joule: output tokens/s ÷ mean power; null without power. */
  tokensPerJoule: number | null;
}

/** Samples the sources every `intervalMs` until stopped; one Scraper per step. */
export class Scraper {
  private readonly t: number[] = [];
  private readonly series = new Map<string, { source: string; name: string; values: Array<number | null> }>();
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;

  constructor(
    private readonly sources: readonly ScrapeSource[],
    private readonly intervalMs: number,
    /** performance.now() of the measured window's start. */
    private readonly windowStartMs: number,
    private readonly headers: Record<string, string> = {},
  ) {
    void this.sample();
    this.timer = setInterval(() => void this.sample(), intervalMs);
    this.timer.unref?.();
  }

  private sample(): Promise<void> {
    // A slow source must not stack scrapes up: skip a tick while the last one is still out.
    if (this.inFlight) return this.inFlight;
    const at = round((performance.now() - this.windowStartMs) / 1000);
    this.inFlight = Promise.all(this.sources.map((source) => this.read(source)))
      .then((readings) => {
        const index = this.t.length;
        this.t.push(at);
        readings.forEach((values, i) => {
          const source = this.sources[i]!;
          for (const [name, value] of values) {
            const key = `${source.display}\u0000${name}`;
            let entry = this.series.get(key);
            if (!entry) {
              if ([...this.series.values()].filter((s) => s.source === source.display).length >= MAX_SERIES_PER_SOURCE)
                continue;
              entry = { source: source.display, name, values: Array.from({ length: index }, () => null) };
              this.series.set(key, entry);
            }
            entry.values[index] = value;
          }
        });
        for (const entry of this.series.values()) while (entry.values.length <= index) entry.values.push(null);
      })
      .finally(() => {
        this.inFlight = undefined;
      });
    return this.inFlight;
  }

  private async read(source: ScrapeSource): Promise<Array<[string, number]>> {
    try {
      const response = await fetch(source.url, {
        headers: this.headers,
        signal: AbortSignal.timeout(Math.max(500, this.intervalMs)),
      });
      const text = await response.text();
      if (response.status !== 200) throw new Error(String(response.status));
      return source.kind === 'query'
        ? parseQueryResponse(text, new URL(source.url).searchParams.get('query') ?? '')
        : parseMetricsText(text);
    } catch {
      this.failures += 1;
      return [];
    }
  }

  /** Stops sampling (after one last sample) and summarizes against the step's window and throughput. */
  async stop(window: { durationS: number; outputTokensPerSecond: number }): Promise<ScrapeSeries> {
    clearInterval(this.timer);
    await this.inFlight;
    await this.sample();
    const series = [...this.series.values()].sort(
      (a, b) => a.source.localeCompare(b.source) || a.name.localeCompare(b.name),
    );
    const power = series.filter((s) => POWER.test(s.name));
    let meanPowerW: number | null = null;
    if (power.length > 0) {
      const totals = this.t
        .map((t, i) => ({
          t,
          total: power.reduce<number | null>(
            (sum, s) => (s.values[i] === null || s.values[i] === undefined ? sum : (sum ?? 0) + s.values[i]),
            null,
          ),
        }))
        .filter(({ t, total }) => t >= 0 && t <= window.durationS + this.intervalMs / 1000 && total !== null);
      if (totals.length > 0) meanPowerW = round(totals.reduce((sum, { total }) => sum + total!, 0) / totals.length);
    }
    return {
      intervalS: this.intervalMs / 1000,
      t: this.t,
      series,
      failures: this.failures,
      meanPowerW,
      tokensPerJoule:
        meanPowerW !== null && meanPowerW > 0 ? round(window.outputTokensPerSecond / meanPowerW, 4) : null,
    };
  }
}

/** The known gauges of a Prometheus text exposition, one per label set: `name{labels}` → value. */
export function parseMetricsText(text: string): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!match || !KNOWN_GAUGES.has(match[1]!)) continue;
    const value = Number(match[3]);
    if (Number.isFinite(value)) out.push([`${match[1]}${match[2] ?? ''}`, value]);
  }
  return out;
}

/** A Prometheus instant-query answer (`resultType` vector or scalar): the query, with each result's labels. */
export function parseQueryResponse(text: string, query: string): Array<[string, number]> {
  const body = JSON.parse(text) as { status?: string; data?: { resultType?: string; result?: unknown } };
  if (body.status !== 'success' || !body.data) throw new Error('query failed');
  if (body.data.resultType === 'scalar') {
    const value = Number((body.data.result as [number, string])[1]);
    return Number.isFinite(value) ? [[query, value]] : [];
  }
  const out: Array<[string, number]> = [];
  for (const item of (body.data.result as Array<{ metric?: Record<string, string>; value?: [number, string] }>) ?? []) {
    const value = Number(item.value?.[1]);
    if (!Number.isFinite(value)) continue;
    const labels = Object.entries(item.metric ?? {})
      .filter(([key]) => key !== '__name__')
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, v]) => `${key}="${v}"`)
      .join(',');
    out.push([`${item.metric?.__name__ ?? query}${labels ? `{${labels}}` : ''}`, value]);
  }
  return out;
}
