import { describeSlo } from '../../bench/endpoint/slo.js';
import { describeLoad } from '../../bench/endpoint/saturation.js';
import type { EndpointBenchResult, EndpointRun } from '../../bench/endpoint/types.js';
import { fmt, renderTable } from '../../ui/table.js';

/**
 * Event-loop delay (p99) above which the client's own busyness may show in the latencies it reports: 10 ms, or a
 * tenth of the step's TTFT p50 when that is larger (a 3 ms hiccup does not matter against a 2 s TTFT).
 */
const CLIENT_BUSY_MS = 10;
const CLIENT_BUSY_SHARE_OF_TTFT = 0.1;

/** The human view of an endpoint bench: context, one row per step, then knee, capacity and notes. */
export function renderEndpointResult(result: EndpointBenchResult, options: { color?: boolean } = {}): string {
  const prompts =
    result.prompts.source === 'dataset'
      ? `dataset ${result.prompts.dataset} (${result.prompts.count} prompts)`
      : `~${result.prompts.tokens?.mean} prompt tokens${result.prompts.tokens?.stddev ? ` ± ${result.prompts.tokens.stddev}` : ''}${result.prompts.tokenizer ? '' : ' (estimated: no --tokenizer)'}`;
  const lines = [
    `${result.target} · ${result.api}${result.model ? ` · model ${result.model}` : ''} · ${prompts} · max ${result.maxTokens} tokens${result.workers > 1 ? ` · ${result.workers} workers merged` : ''}`,
  ];
  if (result.slo) lines.push(`SLO: ${describeSlo(result.slo, result.sloAttainment)}`);
  const withSlo = result.slo !== null;
  const head = [
    'load',
    'requests',
    'errors',
    'req/s',
    'out tok/s',
    'TTFT p50',
    'TTFT p99',
    'ITL p50',
    'ITL p99',
    'TPS p50',
    'latency p50',
    'latency p99',
  ];
  if (withSlo) head.push('goodput/s', 'SLO');
  const rows = result.runs.map((run) => {
    const cells: Array<string | number> = [
      describeLoad(run) + (run.interrupted ? ' (cut)' : ''),
      run.requests,
      run.errors,
      fmt(run.requestsPerSecond, 2),
      fmt(run.outputTokensPerSecond, 1),
      ms(run.ttftMs.p50, run),
      ms(run.ttftMs.p99, run),
      ms(run.itlMs.p50, run),
      ms(run.itlMs.p99, run),
      run.tpsPerRequest.count > 0 ? fmt(run.tpsPerRequest.p50, 1) : '—',
      ms(run.latencyMs.p50, run),
      ms(run.latencyMs.p99, run),
    ];
    if (withSlo) cells.push(fmt(run.goodput, 2), run.metSlo ? 'met' : 'missed');
    return cells;
  });
  lines.push(renderTable(head, rows, options));
  lines.push('times in ms; TPS = output tokens/s of one request after its first token');
  if (result.knee)
    lines.push(
      `knee: ${describeLoad(result.knee)} at ${fmt(result.knee.requestsPerSecond, 2)} req/s, ${fmt(result.knee.outputTokensPerSecond, 1)} tok/s (${result.knee.reason})`,
    );
  if (result.repeat) {
    lines.push(`over ${result.repeat.count} repetitions, mean [95% interval]:`);
    const shown = ['requestsPerSecond', 'ttftMs.p50', 'itlMs.p50', 'latencyMs.p50'];
    const rows = result.repeat.levels.map(({ level, metrics }) => [
      level,
      ...shown.map((name) =>
        metrics[name]
          ? `${fmt(metrics[name].mean, 2)} [${fmt(metrics[name].ci95[0], 2)}, ${fmt(metrics[name].ci95[1], 2)}]`
          : '—',
      ),
    ]);
    lines.push(renderTable(['load', 'req/s', 'TTFT p50', 'ITL p50', 'latency p50'], rows, options));
  }
  if (result.findMax) {
    const search = result.findMax;
    const unit = search.variable === 'concurrency' ? 'c=' : '';
    const tried = search.steps
      .map(
        (step) => `${unit}${step.level}${search.variable === 'rate' ? ' req/s' : ''} ${step.metSlo ? 'met' : 'missed'}`,
      )
      .join(' → ');
    lines.push(
      `find-max: ${search.limit === null ? 'no load met the SLO' : `highest ${search.variable} meeting the SLO: ${search.limit}`} (${search.reason}); tried ${tried}`,
    );
  }
  if (result.slo) {
    lines.push(
      result.capacity
        ? `capacity at SLO (per replica): ${fmt(result.capacity.requestsPerSecond, 2)} req/s, ${fmt(result.capacity.outputTokensPerSecond, 1)} tok/s at ${describeLoad(result.capacity)}`
        : 'capacity at SLO: no step met the SLO',
    );
  }
  lines.push(...notes(result));
  return lines.join('\n');
}

function ms(value: number, run: EndpointRun): string {
  return run.requests > run.errors ? fmt(value, 1) : '—';
}

function notes(result: EndpointBenchResult): string[] {
  const out: string[] = [];
  for (const run of result.runs) {
    const load = describeLoad(run);
    if (run.errors > 0)
      out.push(
        `${load}: ${run.errors} errors (${Object.entries(run.errorsByKind)
          .map(([kind, n]) => `${kind} ${n}`)
          .join(', ')})`,
      );
    if (run.schedule && run.schedule.late > 0)
      out.push(
        `${load}: ${run.schedule.late} of ${run.schedule.sent} sends left more than 10 ms late (lag p99 ${fmt(run.schedule.lagMs.p99, 1)} ms): the client fell behind its schedule`,
      );
    if (run.turns && run.turns.length > 0) {
      out.push(
        `${load}: per turn (requests, TTFT p50, latency p50): ${run.turns.map((t) => `#${t.turn} ${t.requests}, ${t.ttftMs.count > 0 ? fmt(t.ttftMs.p50, 1) : '—'} ms, ${t.latencyMs.count > 0 ? fmt(t.latencyMs.p50, 1) : '—'} ms`).join('; ')}`,
      );
    }
    if (run.scrape) {
      const scrape = run.scrape;
      const summary = scrape.series.slice(0, 8).map((s) => {
        const values = s.values.filter((v): v is number => v !== null);
        return values.length === 0
          ? `${s.name} —`
          : `${s.name} mean ${fmt(values.reduce((a, b) => a + b, 0) / values.length, 2)} max ${fmt(Math.max(...values), 2)}`;
      });
      out.push(
        `${load}: server metrics (${scrape.t.length} samples${scrape.failures > 0 ? `, ${scrape.failures} failed scrapes` : ''}): ${summary.join('; ') || 'no known gauges found'}${scrape.series.length > 8 ? `; … ${scrape.series.length - 8} more in the JSON` : ''}`,
      );
      if (scrape.tokensPerJoule !== null)
        out.push(
          `${load}: ${fmt(scrape.tokensPerJoule, 3)} output tokens per joule at ${fmt(scrape.meanPowerW, 1)} W mean`,
        );
    }
    const counts = run.tokenCounts;
    if (counts && counts.disagreeing > 0) {
      const total =
        counts.totalDiscrepancy === null
          ? ''
          : `, in total ${counts.totalDiscrepancy >= 0 ? '+' : ''}${fmt(counts.totalDiscrepancy * 100, 1)}%`;
      out.push(
        `${load}: output tokens: the server's usage and the ${counts.comparedWith === 'tokenizer' ? "tokenizer's count of the streamed text" : 'count of stream events'} disagree on ${counts.disagreeing} of ${counts.compared} requests (worst ${counts.maxAbsDifference} tokens, ${fmt(counts.maxAbsDiscrepancy * 100, 1)}%${total})`,
      );
    }
    if (run.schedule?.interArrivalCv !== null && run.schedule?.interArrivalCv !== undefined)
      out.push(`${load}: measured gaps between sends have CV ${fmt(run.schedule.interArrivalCv, 2)}`);
    // Results with a self-check say this among its warnings, below.
    if (
      !result.selfCheck &&
      run.client.eventLoopDelayMs.p99 > Math.max(CLIENT_BUSY_MS, CLIENT_BUSY_SHARE_OF_TTFT * run.ttftMs.p50)
    ) {
      out.push(
        `${load}: the load generator's event loop lagged ${fmt(run.client.eventLoopDelayMs.p99, 1)} ms (p99): latencies include client time; spread the load over --workers`,
      );
    }
  }
  const sources = new Set(result.runs.filter((run) => run.requests > run.errors).map((run) => run.tokenSource));
  if (sources.size > 0) {
    const only = sources.size === 1 ? [...sources][0] : undefined;
    out.push(
      `output tokens: ${
        only === 'usage'
          ? "the server's usage counts"
          : only === 'tokenizer'
            ? "the tokenizer's count of the streamed text (the server sent no usage)"
            : only === 'stream'
              ? 'counted as stream events, one token per content event (the server sent no usage): an event may carry several tokens, pass --tokenizer for exact counts'
              : "usage where sent, else the tokenizer's count or stream events"
      }`,
    );
  }
  const cpu = result.runs.filter((run) => run.requests > 0).map((run) => run.client.cpuMsPerRequest);
  if (cpu.length > 0) out.push(`client overhead: ${fmt(Math.max(...cpu), 3)} ms CPU per request at most`);
  if (result.selfCheck) {
    const check = result.selfCheck;
    out.push(
      `client self-check: send lag p50 ${fmt(check.sendLagMs.p50, 2)} ms, p99 ${fmt(check.sendLagMs.p99, 2)} ms over ${check.sends} sends (${check.lateSends} late)${check.warnings.length > 0 ? '' : ` — within ${check.thresholds.sendLagP99Ms} ms`}`,
    );
    for (const warning of check.warnings) out.push(`warning: ${warning}`);
  }
  if (result.stoppedEarly) out.push(`stopped early: ${result.stoppedEarly}`);
  if (result.interrupted) out.push('interrupted: partial results');
  return out;
}
