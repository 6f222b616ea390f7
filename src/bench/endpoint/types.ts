import type { LatencySummary } from '../engine/types.js';
import type { Arrival } from './arrivals.js';
import type { ClientSelfCheck } from './self-check.js';
import type { FindMax } from './find-max.js';
import type { RepeatSummary } from './repeat.js';
import type { ScrapeSeries } from './scrape.js';

/** The request and stream formats llmops speaks. `vllm` is OpenAI completions plus `ignore_eos`, so every request generates exactly `maxTokens`. */
export const ENDPOINT_APIS = ['openai-chat', 'openai-completions', 'vllm', 'tgi'] as const;
export type EndpointApi = (typeof ENDPOINT_APIS)[number];

/** How load is offered in each step of a run. */
export type LoadShape =
  /** Closed loop: this many requests always in flight, each sent when the previous one of its worker ends. */
  | { kind: 'concurrency'; levels: number[] }
  /** Open loop: requests per second on a fixed schedule, sent on time however slow the server is. */
  | {
      kind: 'rate';
      levels: number[];
      arrival: Arrival;
      /** Gamma shape K (arrival `gamma` only): gaps have CV 1/√K. */ burstiness?: number;
    }
  /** Trace replay: one step, each request at its recorded time (× `timeScale`) with its recorded lengths. */
  | { kind: 'schedule'; file: string; requests: number; timeScale: number; spanS: number }
  /** Locust-style: `users` closed-loop users, `spawnRate` more each second until all run. One step. */
  | { kind: 'users'; users: number; spawnRate: number };

/** Service-level objectives a request must meet to count towards goodput. Each is optional. */
export interface Slo {
  ttftMs?: number;
  /** Mean inter-token latency of the request. */
  itlMs?: number;
  /** Output tokens per second of the request (after its first token): at least this. */
  tps?: number;
  latencyMs?: number;
}

/** A prompt as sent: text for completion APIs, messages for chat. */
export interface Prompt {
  text: string;
  messages?: Array<{ role: string; content: string }>;
  /** Overrides the run's maxTokens for this prompt (a dataset line's `max_tokens`). */
  maxTokens?: number;
}

export type ErrorKind =
  /** HTTP status ≥ 400 (`http_429`, `http_503`, …). */
  | `http_${number}`
  /** No complete response within the request timeout. */
  | 'timeout'
  /** Refused, reset or closed before a response started. */
  | 'connection'
  /** The response started, then the connection closed before the stream's end. */
  | 'stream_closed'
  /** Bytes that are not the API's stream format (bad JSON, not SSE, a wrong content type). */
  | 'malformed_stream'
  /** A well-formed stream that reported an error event instead of finishing. */
  | 'stream_error';

/** One finished request, as the load generator measured it. Times are milliseconds from a monotonic clock. */
export interface RequestSample {
  /** When the request was dispatched (performance.now()). */
  startMs: number;
  /** When the request was due (open loop); equals startMs otherwise. */
  scheduledMs: number;
  endMs: number;
  ok: boolean;
  error?: ErrorKind;
  /** HTTP status, 0 when none came. */
  status: number;
  ttftMs: number | null;
  /** Gaps between consecutive content events after the first. */
  itlGapsMs: number[];
  outputTokens: number;
  /**
   * Where outputTokens came from: the server's `usage` when it sent one, else the tokenizer's count of the streamed
   * text (--tokenizer), else the stream's content events (one per content event, whatever an event holds — said so in the output).
   */
  tokenSource: TokenSource;
  /** Every count this request had, so they can be compared (absent only in samples made by hand). */
  tokenCounts?: { usage: number | null; tokenizer: number | null; events: number };
  promptTokens: number | null;
  /** The generated text, only when the sender asked to keep it (a conversation's next turn resends it). */
  text?: string;
  /** In a multi-turn run: which turn of its conversation this request was (1-based). */
  turn?: number;
}

/** Per-turn figures of a multi-turn run: turn n of every conversation played. */
export interface TurnMetrics {
  turn: number;
  requests: number;
  errors: number;
  ttftMs: MetricSummary;
  latencyMs: MetricSummary;
}

export type TokenSource = 'usage' | 'tokenizer' | 'stream';

/**
 * A step's output-token counts side by side: the server's `usage` against what the client saw in the stream (the
 * tokenizer's count of the streamed text with --tokenizer, else content events). Each request is compared on its own,
 * so requests that disagree show in `disagreeing` and the max even when their differences cancel in the total.
 */
export interface TokenCountCheck {
  /** Successful requests that carried a `usage` count, and their sum. */
  requestsWithUsage: number;
  usageTokens: number;
  /** The tokenizer's count of the streamed text, summed (null without --tokenizer). */
  tokenizerTokens: number | null;
  /** Content events, summed. */
  streamEvents: number;
  comparedWith: 'tokenizer' | 'events';
  /** Requests with both counts, and those whose counts differ. */
  compared: number;
  disagreeing: number;
  /** (client total − usage total) ÷ usage total over the compared requests; null when none was compared. */
  totalDiscrepancy: number | null;
  /** The largest per-request difference, in tokens and as a fraction of that request's usage. */
  maxAbsDifference: number;
  maxAbsDiscrepancy: number;
}

/** A percentile summary plus the histogram it came from (HdrHistogram compressed base64), so runs merge exactly. */
export interface MetricSummary extends LatencySummary {
  count: number;
  histogram: string;
}

/** One step of a run: a concurrency, a rate, or the users ramp. */
export interface EndpointRun {
  /** Set in closed-loop steps. */
  concurrency?: number;
  /** Set in open-loop steps (requests per second offered; a trace replay's mean rate). */
  rate?: number;
  /** Set on the step of a trace replay (--schedule): the trace file. */
  trace?: string;
  /** Set for the users ramp. */
  users?: number;
  spawnRate?: number;
  /** In a distributed run: this worker's part of the level (the level itself is the whole). */
  workerShare?: number;
  /** Completed requests (ok or not) in the measured window. */
  requests: number;
  errors: number;
  errorsByKind: Record<string, number>;
  /** Measured window, warm-up excluded. */
  durationS: number;
  /** Completed requests ÷ durationS (errors included; see `goodput` for requests that met the SLO). */
  requestsPerSecond: number;
  /** Output tokens of successful requests ÷ durationS. */
  outputTokensPerSecond: number;
  ttftMs: MetricSummary;
  itlMs: MetricSummary;
  /** Tokens per second per request (not ms, despite the shared summary type). */
  tpsPerRequest: MetricSummary;
  latencyMs: MetricSummary;
  /** Requests that met every SLO ÷ durationS; null without --slo. */
  goodput: number | null;
  /** Fraction of requests (errors count as misses) that met every SLO; null without --slo. */
  sloAttainment: number | null;
  /** Whether this step met the SLO: sloAttainment ≥ the run's required attainment. Null without --slo. */
  metSlo: boolean | null;
  outputTokens: number;
  promptTokens: number | null;
  tokenSource: TokenSource | 'mixed';
  /** With --scrape: the server's gauges sampled through the step, on the timeline's clock, and tokens per joule. */
  scrape?: ScrapeSeries;
  /** With --multi-turn: TTFT and latency per turn number (later turns carry longer histories). */
  turns?: TurnMetrics[];
  /** Usage vs the client's count, per request and in aggregate (absent in old files). */
  tokenCounts?: TokenCountCheck;
  /**
   * The client's own punctuality, in every step: measured sends, those more than LATE_SEND_MS behind the moment they
   * were due (the schedule in an open loop, the previous response's end in a closed one), the lag's percentiles, and
   * in open-loop steps the measured coefficient of variation of the gaps between sends. Optional only in old files.
   */
  schedule?: SendSchedule;
  warmup: { durationS: number; requests: number };
  /** The load generator's own cost in this step: CPU per completed request and event-loop delay. */
  client: { cpuMsPerRequest: number; eventLoopDelayMs: { p50: number; p99: number; max: number } };
  /** Per-second buckets of the measured window, for the report's time series. */
  timeline: TimelinePoint[];
  interrupted?: boolean;
}

export interface SendSchedule {
  sent: number;
  late: number;
  lagMs: MetricSummary;
  /** Open loop: standard deviation ÷ mean of the measured gaps between sends (Poisson 1, gamma 1/√K); else null. */
  interArrivalCv: number | null;
}

export interface TimelinePoint {
  /** Seconds since the measured window began (bucket start). */
  t: number;
  completed: number;
  errors: number;
  outputTokens: number;
  inFlight: number;
  ttftP50Ms: number | null;
  latencyP50Ms: number | null;
}

/** Where throughput stops rising while latency grows: the highest-throughput step before saturation. */
export interface Knee {
  /** Index into runs. */
  index: number;
  concurrency?: number;
  rate?: number;
  requestsPerSecond: number;
  outputTokensPerSecond: number;
  /** Why the next step is past the knee, or that no step in the sweep saturated. */
  reason: string;
  saturated: boolean;
}

/** Per-replica capacity at the SLO: the highest load whose step met every SLO. What deploy's capacity plan reads. */
export interface Capacity {
  index: number;
  concurrency?: number;
  rate?: number;
  requestsPerSecond: number;
  outputTokensPerSecond: number;
  slo: Slo;
}

export interface EndpointBenchResult {
  schemaVersion: 1;
  kind: 'endpoint';
  /** The URL requests went to (no credentials, no query string). */
  target: string;
  api: EndpointApi;
  model: string | null;
  load: LoadShape;
  prompts: {
    source: 'synthetic' | 'dataset' | 'schedule';
    tokens: { mean: number; stddev: number } | null;
    tokenizer: string | null;
    dataset: string | null;
    count: number;
    /** With --multi-turn: the dataset's conversations and their turns in all. */
    conversations?: { count: number; turns: number };
    /** Synthetic prompts that share prefixes (--prefix-tokens, --prefix-count). */
    prefix?: { tokens: number; count: number };
  };
  maxTokens: number;
  slo: Slo | null;
  sloAttainment: number;
  runs: EndpointRun[];
  knee: Knee | null;
  capacity: Capacity | null;
  /** How many workers' results this is (1 unless merged by `llmops bench merge`). */
  workers: number;
  /** Set on one worker's own result in a distributed run. */
  worker?: { index: number; count: number };
  /**
   * With --repeat N: the run was made N times; `runs` and everything else are the first repetition's, and this holds
   * each metric's mean and 95% interval per load level over all N.
   */
  repeat?: RepeatSummary;
  /** With --find-max: the bisection's bounds, the steps it tried (runs, in order) and the limit it found. */
  findMax?: FindMax;
  /** The load generator's own accuracy: send lag, CPU, event-loop delay, and warnings when they pass a threshold. */
  selfCheck?: ClientSelfCheck;
  /** Why the sweep ended before its last step (every request of a step failed to connect). */
  stoppedEarly?: string;
  startedAt: string;
  interrupted: boolean;
}
