/** A small Prometheus registry: counters, gauges and histograms rendered in the text exposition format. */

type Labels = Record<string, string>;
const key = (labels: Labels) =>
  Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');
const braces = (text: string) => (text ? `{${text}}` : '');

class Counter {
  private readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = key(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const [labels, value] of [...this.values].sort()) lines.push(`${this.name}${braces(labels)} ${value}`);
    return lines.join('\n');
  }
}

class Gauge {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => number,
  ) {}
  render(): string {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`, `${this.name} ${this.read()}`].join('\n');
  }
}

class Histogram {
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets: number[],
  ) {}
  observe(value: number, labels: Labels = {}): void {
    const k = key(labels);
    const s = this.series.get(k) ?? { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
    this.buckets.forEach((bound, i) => {
      if (value <= bound) s.counts[i]! += 1;
    });
    s.sum += value;
    s.count += 1;
    this.series.set(k, s);
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [labels, s] of [...this.series].sort(([a], [b]) => a.localeCompare(b))) {
      const prefix = labels ? `${labels},` : '';
      this.buckets.forEach((bound, i) => lines.push(`${this.name}_bucket{${prefix}le="${bound}"} ${s.counts[i]}`));
      lines.push(
        `${this.name}_bucket{${prefix}le="+Inf"} ${s.count}`,
        `${this.name}_sum${braces(labels)} ${s.sum}`,
        `${this.name}_count${braces(labels)} ${s.count}`,
      );
    }
    return lines.join('\n');
  }
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const STEP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export class Metrics {
  readonly requests = new Counter('llmops_requests_total', 'HTTP requests by route and status code.');
  readonly latency = new Histogram(
    'llmops_request_duration_seconds',
    'Request latency (received to last byte) by route.',
    LATENCY_BUCKETS,
  );
  readonly ttft = new Histogram(
    'llmops_time_to_first_token_seconds',
    'Time from request received to the first generated token.',
    LATENCY_BUCKETS,
  );
  readonly promptTokens = new Counter('llmops_prompt_tokens_total', 'Prompt tokens processed.');
  readonly generatedTokens = new Counter('llmops_generation_tokens_total', 'Tokens generated.');
  // Per scheduling step: a prefill that takes long next to a decode is what stalls running streams (see PREFILL_CHUNK_TOKENS).
  readonly stepDecode = new Histogram(
    'llmops_step_decode_seconds',
    'Time of the decode part of a scheduling step (steps that decoded).',
    STEP_BUCKETS,
  );
  readonly stepPrefill = new Histogram(
    'llmops_step_prefill_seconds',
    'Time of the prefill part of a scheduling step (steps that prefilled).',
    STEP_BUCKETS,
  );
  readonly stepPrefillTokens = new Counter(
    'llmops_step_prefill_tokens_total',
    'Prompt tokens prefilled by scheduling steps (whole prompts and chunks).',
  );
  readonly stepFedTokens = new Counter(
    'llmops_step_fed_prompt_tokens_total',
    'Prompt tokens fed one per decode step, as rows of the decode runs (see PREFILL_TIME_RATIO).',
  );
  readonly stepCopy = new Histogram(
    'llmops_step_kv_copy_seconds',
    'Time a scheduling step spent re-laying KV caches outside the model (rows leaving, joining, cohorts merging).',
    STEP_BUCKETS,
  );
  private readonly gauges: Gauge[];

  constructor(state: {
    batchSize: () => number;
    queueDepth: () => number;
    waiting: () => number;
    kvMemory: () => { reservedBytes: number; freshBytes: number } | null;
  }) {
    this.gauges = [
      new Gauge('llmops_batch_size', 'Sequences in the running batch.', state.batchSize),
      new Gauge('llmops_queue_waiting', 'Requests waiting for a batch slot.', state.waiting),
      // The autoscaling signal (llmops deploy, KEDA): requests admitted and not yet finished, waiting or running.
      new Gauge('llmops_queue_depth', 'Requests inside the server: waiting plus running.', state.queueDepth),
      new Gauge(
        'llmops_kv_memory_reserved_bytes',
        'KV cache memory reserved at start-up (KV_RESERVE_POSITIONS).',
        () => state.kvMemory()?.reservedBytes ?? 0,
      ),
      // Rising while serving: steps waited for fresh memory, the stalls the reservation exists to prevent.
      new Gauge(
        'llmops_kv_memory_grown_bytes',
        'KV cache memory allocated since start-up because nothing reserved or freed was large enough.',
        () => state.kvMemory()?.freshBytes ?? 0,
      ),
    ];
  }

  /** Records one scheduling step's time split. */
  observeStep(stats: {
    decodeRows: number;
    decodeMs: number;
    feedRows: number;
    prefillTokens: number;
    prefillMs: number;
    copyMs: number;
  }): void {
    if (stats.feedRows > 0) this.stepFedTokens.inc({}, stats.feedRows);
    if (stats.decodeRows > 0) this.stepDecode.observe(stats.decodeMs / 1000);
    if (stats.copyMs > 0) this.stepCopy.observe(stats.copyMs / 1000);
    if (stats.prefillTokens > 0) {
      this.stepPrefill.observe(stats.prefillMs / 1000);
      this.stepPrefillTokens.inc({}, stats.prefillTokens);
    }
  }

  render(): string {
    return `${[this.requests, this.latency, this.ttft, this.promptTokens, this.generatedTokens, this.stepDecode, this.stepPrefill, this.stepPrefillTokens, this.stepFedTokens, this.stepCopy, ...this.gauges].map((m) => m.render()).join('\n')}\n`;
  }
}
