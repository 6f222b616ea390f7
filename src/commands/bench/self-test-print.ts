import type { SelfTestResult } from '../../bench/endpoint/self-test.js';
import { fmt } from '../../ui/table.js';

/** The client self-test for a reader: the client's error against the server's own timing, send lag, the verdict. */
export function renderSelfTest(result: SelfTestResult): string {
  const pct = (x: number) => `${x >= 0 ? '+' : ''}${fmt(x * 100, 1)}%`;
  return [
    `client self-test at ${result.concurrency} streams: ${result.measured.requests} requests, ${fmt(result.measured.requestsPerSecond, 1)} req/s, ${result.measured.errors} errors`,
    `TTFT p50 ${fmt(result.measured.ttftP50Ms, 2)} ms: the server's own ${fmt(result.server.observed.ttftP50Ms, 2)} ms (client error ${pct(result.error.ttft)}), nominal ${result.server.ttftMs} ms (${pct(result.error.vsNominal.ttft)})`,
    `ITL p50 ${fmt(result.measured.itlP50Ms, 2)} ms: the server's own ${fmt(result.server.observed.itlP50Ms, 2)} ms (client error ${pct(result.error.itl)}), nominal ${result.server.itlMs} ms (${pct(result.error.vsNominal.itl)})`,
    `send lag p99 ${fmt(result.measured.sendLagP99Ms, 2)} ms · client CPU ${fmt(result.measured.cpuMsPerRequest, 3)} ms per request · event-loop delay p99 ${fmt(result.measured.eventLoopDelayP99Ms, 1)} ms`,
    result.passed
      ? `passed: errors within ${result.thresholds.error * 100}% and send lag p99 within ${result.thresholds.sendLagP99Ms} ms`
      : result.warnings.map((w) => `warning: ${w}`).join('\n'),
  ].join('\n');
}
