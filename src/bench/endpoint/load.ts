import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Recorder } from '../stats.js';
import { metricSummary, round, StepAccumulator, type StepMetrics } from './accumulator.js';
import { createRandom } from '../../engine/sampling.js';
import { arrivalGaps, GapStats, type Arrival } from './arrivals.js';
import { startPreciseTimer, type PreciseTimer } from './precise-timer.js';
import type { RequestSample, SendSchedule, Slo } from './types.js';

/** A send more than this far behind its schedule is counted as late: the client, not the server, fell behind. */
export const LATE_SEND_MS = 10;
const PROGRESS_INTERVAL_MS = 250;
/** The event-loop delay monitor's timer period; its samples include it, so it is subtracted. */
const LOOP_DELAY_RESOLUTION_MS = 10;

/** Turn `turn` (0-based) of conversation `conversation`, in session `session` (one playing of it, with its own history). */
export interface TurnRef {
  session: number;
  conversation: number;
  turn: number;
}

/**
 * Sends a request: the next prompt in turn, prompt number `what`, or a conversation's turn; resolves null when the
 * request was cut short by an interrupt. `scheduledMs` is when it was due.
 */
export type Send = (scheduledMs?: number, what?: number | TurnRef) => Promise<RequestSample | null>;

export interface StepProgress {
  step: string;
  /** One `start` and one `done` per step, `running` every quarter second between. */
  phase: 'start' | 'running' | 'done';
  elapsedS: number;
  /** The measured window's length, when the step runs for a duration. */
  windowS: number | null;
  warmingUp: boolean;
  completed: number;
  errors: number;
  requestsPerSecond: number;
  /** TTFT p50 so far; a function because a percentile query walks the histogram, which only a live display needs. */
  ttftP50Ms: () => number | null;
}

export interface StepPlan {
  /** Label for progress lines, e.g. `c=8`. */
  label: string;
  warmupMs: number;
  /** Either a measured window of this length… */
  durationMs?: number;
  /** …or this many requests sent after the warm-up. */
  requests?: number;
  slo: Slo | null;
  signal: AbortSignal;
  onProgress?: (progress: StepProgress) => void;
  onSample?: (sample: RequestSample) => void;
}

export interface StepOutcome extends StepMetrics {
  warmup: { durationS: number; requests: number };
  client: { cpuMsPerRequest: number; eventLoopDelayMs: { p50: number; p99: number; max: number } };
  schedule: SendSchedule;
  interrupted: boolean;
}

/**
 * The bookkeeping every load shape shares: the warm-up boundary, the measured window, progress, client cost.
 * A shape only decides when to call `launch`.
 */
class Step {
  readonly startMs = performance.now();
  readonly windowStartMs: number;
  windowEndMs: number | null;
  readonly accumulator: StepAccumulator;
  inFlight = 0;
  /** Requests launched after the warm-up (the ones --requests counts). */
  counted = 0;
  private warmupRequests = 0;
  private lastEndMs = 0;
  private readonly pending = new Set<Promise<unknown>>();
  private readonly loopDelay = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
  private cpuAtWindow: NodeJS.CpuUsage | null = null;
  /** Measured sends: how far each left behind the moment it was due, and the gaps between them. */
  private readonly lag = new Recorder();
  private readonly gaps = new GapStats();
  private sent = 0;
  private late = 0;
  private progressTimer: NodeJS.Timeout | undefined;
  /** Completion times of the last two seconds, for the live req/s (kept only when someone watches). */
  private recentCompleted: number[] = [];
  completedTotal = 0;
  errorsTotal = 0;

  constructor(
    private readonly plan: StepPlan,
    private readonly send: Send,
  ) {
    this.windowStartMs = this.startMs + plan.warmupMs;
    this.windowEndMs = plan.durationMs === undefined ? null : this.windowStartMs + plan.durationMs;
    this.accumulator = new StepAccumulator(this.windowStartMs, plan.slo);
    this.progressTimer = setInterval(() => this.tick(), PROGRESS_INTERVAL_MS);
    this.progressTimer.unref?.();
    if (plan.warmupMs === 0) this.beginWindow();
    else setTimeout(() => this.beginWindow(), plan.warmupMs).unref?.();
    this.tick('start');
  }

  get aborted(): boolean {
    return this.plan.signal.aborted;
  }

  /** Whether a request launched now would fall in the measured window, and whether the step wants more. */
  get accepting(): boolean {
    if (this.aborted) return false;
    const now = performance.now();
    if (this.windowEndMs !== null && now >= this.windowEndMs) return false;
    if (this.plan.requests !== undefined && now >= this.windowStartMs && this.counted >= this.plan.requests)
      return false;
    return true;
  }

  /**
   * Sends one request that was due at `dueMs` (its schedule in an open loop, the moment its worker became free in a
   * closed one) and records how late it left; the returned promise settles with the sample once it is recorded.
   */
  launch(dueMs: number, what?: number | TurnRef): Promise<RequestSample | null> {
    const now = performance.now();
    if (now >= this.windowStartMs) {
      this.counted += 1;
      this.sent += 1;
      const behindMs = Math.max(0, now - dueMs);
      this.lag.record(behindMs);
      if (behindMs > LATE_SEND_MS) this.late += 1;
      this.gaps.add(now);
    } else this.warmupRequests += 1;
    this.inFlight += 1;
    const done = this.send(dueMs, what).then((sample) => {
      this.inFlight -= 1;
      if (!sample) return null;
      this.completedTotal += 1;
      if (!sample.ok) this.errorsTotal += 1;
      if (this.plan.onProgress) this.recentCompleted.push(sample.endMs);
      if (sample.startMs >= this.windowStartMs) this.lastEndMs = Math.max(this.lastEndMs, sample.endMs);
      this.accumulator.add(sample, this.windowEndMs);
      if (sample.startMs >= this.windowStartMs) this.plan.onSample?.(sample);
      return sample;
    });
    this.pending.add(done);
    void done.finally(() => this.pending.delete(done));
    return done;
  }

  /** Waits for every request in flight (they finish, time out, or are cut by an interrupt). */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private beginWindow(): void {
    this.loopDelay.enable();
    this.cpuAtWindow = process.cpuUsage();
  }

  private tick(phase: StepProgress['phase'] = 'running'): void {
    const now = performance.now();
    this.accumulator.sampleInFlight(now, this.inFlight);
    if (!this.plan.onProgress) return;
    // req/s over the last two seconds: what a person watching wants, not the average since the start.
    this.recentCompleted = this.recentCompleted.filter((at) => at >= now - 2000);
    const span = Math.min(2, (now - this.startMs) / 1000);
    this.plan.onProgress({
      step: this.plan.label,
      phase,
      elapsedS: round((now - this.startMs) / 1000, 1),
      windowS: this.plan.durationMs === undefined ? null : this.plan.durationMs / 1000,
      warmingUp: now < this.windowStartMs,
      completed: this.completedTotal,
      errors: this.errorsTotal,
      requestsPerSecond: span > 0 ? round(this.recentCompleted.length / span, 1) : 0,
      ttftP50Ms: () => this.accumulator.liveTtftP50(),
    });
  }

  /** `openLoop`: sends follow an arrival process, so the measured gaps between them are worth reporting. */
  finish(options: { openLoop?: boolean } = {}): StepOutcome {
    clearInterval(this.progressTimer);
    this.tick('done');
    const cpu = process.cpuUsage(this.cpuAtWindow ?? undefined);
    this.loopDelay.disable();
    const windowEnd = this.windowEndMs ?? Math.max(this.lastEndMs, this.windowStartMs);
    const metrics = this.accumulator.metrics(
      Math.max(0, Math.min(windowEnd, performance.now()) - this.windowStartMs) / 1000,
    );
    const nsToMs = (ns: number) => round(Math.max(0, ns / 1e6 - LOOP_DELAY_RESOLUTION_MS));
    const delay = this.loopDelay;
    const measured = delay.count > 0;
    return {
      ...metrics,
      warmup: { durationS: round(this.plan.warmupMs / 1000), requests: this.warmupRequests },
      client: {
        cpuMsPerRequest:
          this.cpuAtWindow && metrics.requests > 0 ? round((cpu.user + cpu.system) / 1000 / metrics.requests) : 0,
        eventLoopDelayMs: {
          p50: measured ? nsToMs(delay.percentile(50)) : 0,
          p99: measured ? nsToMs(delay.percentile(99)) : 0,
          max: measured ? nsToMs(delay.max) : 0,
        },
      },
      schedule: {
        sent: this.sent,
        late: this.late,
        lagMs: metricSummary(this.lag),
        interArrivalCv: options.openLoop && this.gaps.cv !== null ? round(this.gaps.cv) : null,
      },
      interrupted: this.aborted,
    };
  }
}

/**
 * A closed-loop worker: sends its next request as soon as its previous one ends. The send is due when the previous
 * response's last byte came in, so the lag measures the client's own queuing between the two.
 */
async function closedLoopWorker(step: Step, firstDueMs: number): Promise<void> {
  let dueMs = firstDueMs;
  while (step.accepting) {
    const sample = await step.launch(dueMs);
    dueMs = sample?.endMs ?? performance.now();
  }
}

/** Closed loop: `concurrency` workers, each sending its next request as soon as its previous one ends. */
export async function runConcurrencyStep(plan: StepPlan, send: Send, concurrency: number): Promise<StepOutcome> {
  const step = new Step(plan, send);
  await Promise.all(Array.from({ length: concurrency }, () => closedLoopWorker(step, step.startMs)));
  await step.drain();
  return step.finish();
}

/**
 * Locust-style ramp: a new closed-loop user every 1/spawnRate seconds until `users` run, all until the step ends.
 * Each user's first request goes out when it spawns, as Locust's do.
 */
export async function runUsersStep(plan: StepPlan, send: Send, users: number, spawnRate: number): Promise<StepOutcome> {
  const step = new Step(plan, send);
  const running: Promise<void>[] = [];
  for (let user = 0; user < users && step.accepting; user += 1) {
    running.push(closedLoopWorker(step, step.startMs + (user * 1000) / spawnRate));
    const nextSpawnMs = step.startMs + ((user + 1) * 1000) / spawnRate;
    const wait = nextSpawnMs - performance.now();
    if (user + 1 < users && wait > 0) await sleep(wait, undefined, { signal: plan.signal }).catch(() => undefined);
  }
  await Promise.all(running);
  await step.drain();
  return step.finish();
}

/** What the open-loop sender needs of time: a clock and a sleep until a moment on it (both in ms). */
export interface SendClock {
  now(): number;
  /** Resolves at `atMs` or later (never before, unless the sender is being stopped). */
  sleepUntil(atMs: number): Promise<void>;
}

/**
 * The open-loop sender: launches each request `nextDue` yields at its due time (`atMs` on `clock`; null ends the
 * schedule), until `accepting` says stop. Each wake-up launches every request then due in one pass, and the next sleep
 * is until the next request's own due time — absolute, fixed by the schedule, never counted from the last send — so a
 * late wake-up makes those sends late (and the lag says so) but never shifts the ones after them.
 */
export async function sendOnSchedule<Due extends { atMs: number }>(options: {
  clock: SendClock;
  nextDue: () => Due | null;
  launch: (due: Due) => void;
  accepting: () => boolean;
}): Promise<void> {
  const { clock, nextDue, launch, accepting } = options;
  let due = nextDue();
  while (due !== null && accepting()) {
    if (due.atMs > clock.now()) {
      await clock.sleepUntil(due.atMs);
      continue;
    }
    launch(due);
    due = nextDue();
  }
}

/**
 * Sends at the due times `nextDue` yields (ms since the step started; null when the schedule is over), however slow
 * the server is — no coordinated omission. A stalled server makes requests pile up in flight, and their latency shows
 * it; a send that leaves more than LATE_SEND_MS after its due time is counted late (the client fell behind).
 * `timer` was started before the step, so that its thread's start-up is not charged to the first sends.
 */
async function runScheduled(
  step: Step,
  plan: StepPlan,
  timer: PreciseTimer,
  nextDue: () => { atMs: number; promptIndex?: number } | null,
): Promise<void> {
  const stop = () => timer.cancel();
  plan.signal.addEventListener('abort', stop, { once: true });
  try {
    await sendOnSchedule({
      clock: { now: () => performance.now(), sleepUntil: (atMs) => timer.sleepUntil(atMs) },
      nextDue: () => {
        const due = nextDue();
        if (due) due.atMs += step.startMs;
        return due;
      },
      launch: (due) => void step.launch(due.atMs, due.promptIndex),
      accepting: () => step.accepting,
    });
  } finally {
    plan.signal.removeEventListener('abort', stop);
  }
}

/** Open loop: requests on a schedule fixed before the step starts (constant, Poisson or gamma gaps). */
export async function runRateStep(
  plan: StepPlan,
  send: Send,
  rate: number,
  options: { arrival: Arrival; burstiness?: number; seed: number; phase?: number },
): Promise<StepOutcome> {
  const gapMs = arrivalGaps({
    rate,
    arrival: options.arrival,
    burstiness: options.burstiness,
    random: createRandom(options.seed),
  });
  const timer = await startPreciseTimer();
  try {
    const step = new Step(plan, send);
    // Workers of a distributed run share one constant schedule by starting at different phases of the gap.
    let atMs = options.arrival === 'constant' ? ((options.phase ?? 0) * 1000) / rate : gapMs();
    await runScheduled(step, plan, timer, () => {
      const due = { atMs };
      atMs += gapMs();
      return due;
    });
    await step.drain();
    return step.finish({ openLoop: true });
  } finally {
    await timer.close();
  }
}

/**
 * Trace replay: request i goes out `offsetsMs[i]` after the step starts, with prompt i — the recorded arrival times
 * (already scaled), kept however the server responds.
 */
export async function runScheduleStep(plan: StepPlan, send: Send, offsetsMs: readonly number[]): Promise<StepOutcome> {
  const timer = await startPreciseTimer();
  try {
    const step = new Step(plan, send);
    let i = 0;
    await runScheduled(step, plan, timer, () =>
      i < offsetsMs.length ? { atMs: offsetsMs[i]!, promptIndex: i++ } : null,
    );
    await step.drain();
    return step.finish({ openLoop: true });
  } finally {
    await timer.close();
  }
}

/**
 * Multi-turn conversations, closed loop: `concurrency` users, each playing one conversation after another (conversation
 * i mod count). A turn is sent when the answer to the previous one has fully arrived, so its history can hold that
 * answer; a failed turn ends its conversation. `turns[i]` is the number of turns of conversation i.
 */
export async function runConversationStep(
  plan: StepPlan,
  send: Send,
  concurrency: number,
  turns: readonly number[],
): Promise<StepOutcome> {
  const step = new Step(plan, send);
  let nextConversation = 0;
  let nextSession = 0;
  const user = async () => {
    let dueMs = step.startMs;
    while (step.accepting) {
      const conversation = nextConversation++ % turns.length;
      const session = nextSession++;
      for (let turn = 0; turn < turns[conversation]! && step.accepting; turn += 1) {
        const sample = await step.launch(dueMs, { session, conversation, turn });
        dueMs = sample?.endMs ?? performance.now();
        if (!sample?.ok) break;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, user));
  await step.drain();
  return step.finish();
}
