import { Recorder } from '../stats.js';
import { round } from './accumulator.js';
import { describeLoad } from './saturation.js';
import type { EndpointRun } from './types.js';

/** Send lag (p99) above which a run's JSON warns that the client, not the server, may be in its figures. */
export const SEND_LAG_WARN_MS = 5;
/**
 * Event-loop delay (p99) above which the same holds — callbacks that time chunks waited this long to run: 10 ms, or a
 * tenth of the step's TTFT p50 when that is larger (a 3 ms hiccup does not matter against a 2 s TTFT).
 */
export const LOOP_DELAY_WARN_MS = 10;
export const LOOP_DELAY_WARN_SHARE_OF_TTFT = 0.1;

/** What the load generator says about its own accuracy in a run: every run carries it. */
export interface ClientSelfCheck {
  /** Measured sends of every step, and how far behind they left (the union of the steps' lag histograms). */
  sends: number;
  lateSends: number;
  sendLagMs: { p50: number; p99: number; max: number };
  /** The worst step's client CPU per completed request and event-loop delay p99. */
  cpuMsPerRequest: number;
  eventLoopDelayP99Ms: number;
  /** eventLoopDelayP99Ms: the floor; a step's limit is the larger of it and a tenth of its TTFT p50. */
  thresholds: { sendLagP99Ms: number; eventLoopDelayP99Ms: number };
  /** One line per step whose lag or loop delay passed its threshold; empty when the client kept up. */
  warnings: string[];
}

/** The client's self-check over a run's steps. */
export function clientSelfCheck(runs: readonly EndpointRun[]): ClientSelfCheck {
  const lag = new Recorder();
  let sends = 0;
  let lateSends = 0;
  const warnings: string[] = [];
  for (const run of runs) {
    const load = describeLoad(run);
    if (run.schedule) {
      lag.merge(Recorder.decode(run.schedule.lagMs.histogram));
      sends += run.schedule.sent;
      lateSends += run.schedule.late;
      if (run.schedule.lagMs.p99 > SEND_LAG_WARN_MS) {
        warnings.push(
          `${load}: send lag p99 ${run.schedule.lagMs.p99} ms is above ${SEND_LAG_WARN_MS} ms: requests left late, so the offered load and the latencies include client time`,
        );
      }
    }
    const loopLimit = Math.max(LOOP_DELAY_WARN_MS, LOOP_DELAY_WARN_SHARE_OF_TTFT * run.ttftMs.p50);
    if (run.client.eventLoopDelayMs.p99 > loopLimit) {
      warnings.push(
        `${load}: the client's event loop lagged ${run.client.eventLoopDelayMs.p99} ms (p99), above ${round(loopLimit)} ms: latencies include client time; spread the load over --workers`,
      );
    }
  }
  const measured = runs.filter((run) => run.requests > 0);
  return {
    sends,
    lateSends,
    sendLagMs: { p50: lag.percentile(50), p99: lag.percentile(99), max: lag.bucketMax },
    cpuMsPerRequest: measured.length > 0 ? Math.max(...measured.map((run) => run.client.cpuMsPerRequest)) : 0,
    eventLoopDelayP99Ms: runs.length > 0 ? Math.max(...runs.map((run) => run.client.eventLoopDelayMs.p99)) : 0,
    thresholds: { sendLagP99Ms: SEND_LAG_WARN_MS, eventLoopDelayP99Ms: LOOP_DELAY_WARN_MS },
    warnings,
  };
}
