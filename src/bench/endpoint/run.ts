import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { LlmopsError, usageError } from '../../errors.js';
import { requestBody, resolveEndpoint, type Endpoint } from './api.js';
import { sendStreamingRequest, type StreamingRequest } from './client.js';
import {
  runConcurrencyStep,
  runConversationStep,
  runRateStep,
  runScheduleStep,
  runUsersStep,
  type Send,
  type StepOutcome,
  type StepPlan,
  type StepProgress,
  type TurnRef,
} from './load.js';
import { bisectLoad, summarizeFindMax } from './find-max.js';
import { summarizeRepeats } from './repeat.js';
import { parseScrapeSource, Scraper } from './scrape.js';
import { clientSelfCheck } from './self-check.js';
import { readTrace, type Trace } from './trace.js';
import {
  approximateTokenCounter,
  datasetConversations,
  datasetPrompts,
  loadTokenCounter,
  syntheticPrompts,
  type Conversation,
  type TokenCounter,
} from './prompts.js';
import { findCapacity, findKnee, stepFacts } from './saturation.js';
import type {
  Capacity,
  EndpointApi,
  EndpointBenchResult,
  EndpointRun,
  LoadShape,
  Prompt,
  RequestSample,
  Slo,
} from './types.js';

export interface EndpointBenchOptions {
  /** The server (`http://host:8000`, given the API's standard path) or a full endpoint URL. */
  url: string;
  /** @default from the URL's path, else 'openai-chat' */
  api?: EndpointApi;
  /** Model name sent in OpenAI requests. @default the first model of the server's GET /v1/models */
  model?: string;
  /** @default { kind: 'concurrency', levels: [1, 8, 32] } */
  load?: LoadShape;
  /** Measured window of each step. @default 30 s (unless `requests` is given) */
  durationMs?: number;
  /** Requests per step instead of a duration. */
  requests?: number;
  /** Excluded from every step's statistics, and reported. @default 5 s */
  warmupMs?: number;
  /** Synthetic prompt length in tokens. @default { mean: 128, stddev: 0 } */
  promptTokens?: { mean: number; stddev: number };
  /** @default 128 */
  maxTokens?: number;
  /** JSONL (or JSON array) of prompts; replaces synthetic prompts. */
  dataset?: string;
  /**
   * Replays a trace (JSONL of `{timestamp, input_length, output_length}` or with `prompt`/`messages`) instead of
   * `load`: one step, each request at its recorded time × `timeScale`. `requests` keeps only the first N lines.
   */
  schedule?: { file: string; timeScale?: number };
  /**
   * Bisection to the highest load meeting `slo`: `load` is `concurrency` or `rate` with levels [low, high]; the steps
   * tried become the runs, `findMax` says what was found, and `capacity` is that limit. `tolerance`: stop when the
   * bracket is this narrow relative to its top (concurrency: or one apart). @default { tolerance: 0.02 }
   */
  findMax?: { tolerance?: number };
  /**
   * Play the dataset's conversations turn by turn (closed loop: `load` is concurrency, the number of conversations in
   * flight): each turn is sent when the previous answer has arrived, with the whole history (the server's actual
   * answers), and each step reports per-turn TTFT and latency.
   */
  multiTurn?: boolean;
  /**
   * Sample these during every step: a server's Prometheus `/metrics` (its queue, batch and KV-cache gauges, DCGM's GPU
   * utilization and power) or a Prometheus query URL (`…/api/v1/query?query=…`). No credentials are sent to them.
   */
  scrape?: string[];
  /** @default 1000 */
  scrapeIntervalMs?: number;
  /** Make the whole run this many times and report each metric's mean and 95% interval per level. @default 1 */
  repeat?: number;
  /** Synthetic prompts start with one of `count` shared prefixes of `tokens` tokens (a prefix-cache workload). */
  prefix?: { tokens: number; count: number };
  /** tokenizer.json, a model directory or an artifact: synthetic prompts are cut to exact token counts with it. */
  tokenizer?: string;
  slo?: Slo;
  /** Fraction of a step's requests that must meet every SLO for the step to meet it. @default 0.9 */
  sloAttainment?: number;
  /** Extra request headers (Authorization among them). Never printed or saved. */
  headers?: Record<string, string>;
  /** A request not finished after this long is a timeout. @default 120 s */
  timeoutMs?: number;
  temperature?: number;
  /** Seeds prompts and Poisson arrivals. @default 1 */
  seed?: number;
  /** This process is worker `index` of `count` (a distributed run): it offers its share of every load level. */
  worker?: { index: number; count: number };
  /** Most connections an open-loop step may open. @default 10000 */
  maxConnections?: number;
  signal?: AbortSignal;
  onProgress?: (progress: StepProgress) => void;
  /** Each measured request as it finishes (for --csv's per-request file). */
  onSample?: (sample: RequestSample, step: string) => void;
}

const DEFAULT_LOAD: LoadShape = { kind: 'concurrency', levels: [1, 8, 32] };

/**
 * Load-tests a streaming LLM endpoint, one step per load level, and finds its knee and capacity at the SLO. With
 * `repeat` N > 1 the whole run is made N times: the result is the first's, with each metric's mean and 95% interval
 * per level over all N in `repeat` (per-request samples are reported for the first only).
 */
export async function benchEndpoint(options: EndpointBenchOptions): Promise<EndpointBenchResult> {
  const times = options.repeat ?? 1;
  if (!Number.isInteger(times) || times < 1)
    throw usageError(`Expected --repeat to be a positive integer, got ${times}`, 'INVALID_REPEAT');
  if (times > 1 && options.findMax)
    throw usageError('--repeat and --find-max do not combine: each search tries its own loads', 'INVALID_REPEAT', {
      hint: 'run --find-max, then --repeat at the limit it found',
    });
  const first = await benchEndpointOnce(options);
  if (times === 1) return first;
  const results = [first];
  const { onSample: _samples, ...rest } = options;
  while (results.length < times && !results[results.length - 1]!.interrupted)
    results.push(await benchEndpointOnce(rest));
  const complete = results.filter((result) => !result.interrupted);
  return {
    ...first,
    ...(complete.length > 0 ? { repeat: summarizeRepeats(complete) } : {}),
    interrupted: results.some((result) => result.interrupted),
  };
}

async function benchEndpointOnce(options: EndpointBenchOptions): Promise<EndpointBenchResult> {
  const endpoint = resolveEndpoint(options.url, options.api);
  const maxTokens = options.maxTokens ?? 128;
  const worker = options.worker ?? { index: 0, count: 1 };
  validateOptions(options, options.load ?? DEFAULT_LOAD, worker);
  const scrapeSources = (options.scrape ?? []).map(parseScrapeSource);
  if (options.scrapeIntervalMs !== undefined && !(options.scrapeIntervalMs >= 50))
    throw usageError(
      `Expected --scrape-interval of at least 50ms, got ${options.scrapeIntervalMs}ms`,
      'INVALID_SCRAPE',
    );
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'text/event-stream',
    ...(endpoint.basicAuth ? { authorization: endpoint.basicAuth } : {}),
    ...lowerCaseKeys(options.headers ?? {}),
  };
  if (!headers.authorization && process.env.LLMOPS_API_KEY)
    headers.authorization = `Bearer ${process.env.LLMOPS_API_KEY}`;

  const counter: TokenCounter = options.tokenizer ? await loadTokenCounter(options.tokenizer) : approximateTokenCounter;
  const promptTokens = options.promptTokens ?? { mean: 128, stddev: 0 };
  const trace: Trace | undefined = options.schedule
    ? await readTrace(options.schedule.file, {
        timeScale: options.schedule.timeScale ?? 1,
        counter,
        seed: (options.seed ?? 1) * 7919,
        ...(options.requests === undefined ? {} : { limit: options.requests }),
      })
    : undefined;
  const load: LoadShape = trace
    ? {
        kind: 'schedule',
        file: options.schedule!.file,
        requests: trace.prompts.length,
        timeScale: options.schedule!.timeScale ?? 1,
        spanS: round3(trace.spanS),
      }
    : (options.load ?? DEFAULT_LOAD);
  const maxLevel = load.kind === 'users' ? load.users : load.kind === 'schedule' ? 1 : Math.max(...load.levels);
  const conversations: Conversation[] | undefined = options.multiTurn
    ? await datasetConversations(options.dataset!)
    : undefined;
  const prompts: Prompt[] = trace
    ? trace.prompts
    : conversations
      ? conversations.map((conversation) => ({ text: conversation.turns[0]!.content }))
      : options.dataset
        ? await datasetPrompts(options.dataset)
        : syntheticPrompts({
            count: Math.min(1024, Math.max(64, Math.ceil(maxLevel * 2))),
            ...promptTokens,
            counter,
            seed: (options.seed ?? 1) * 7919 + worker.index,
            ...(options.prefix ? { prefix: options.prefix } : {}),
          });

  const connections =
    load.kind === 'rate' || load.kind === 'schedule' ? (options.maxConnections ?? 10_000) : share(maxLevel, worker);
  const pool = new Pool(endpoint.origin, {
    connections: Math.max(1, connections),
    pipelining: 1,
    keepAliveTimeout: 60_000,
    connect: { timeout: 10_000 },
  });
  const startedAt = new Date().toISOString();
  const signal = options.signal ?? new AbortController().signal;
  // One listener for the whole run: destroying the pool ends every request in flight at once.
  const stop = () => void pool.destroy().catch(() => undefined);
  signal.addEventListener('abort', stop, { once: true });
  try {
    const model = await resolveModelName(pool, endpoint, options.model, headers);
    const requests: StreamingRequest[] = prompts.map((prompt) => ({
      path: endpoint.path,
      headers,
      body: requestBody(endpoint.api, prompt, {
        model,
        maxTokens,
        ...(options.temperature === undefined ? {} : { temperature: options.temperature }),
      }),
    }));
    let next = 0;
    const timeoutMs = options.timeoutMs ?? 120_000;
    const sendOptions = (scheduledMs: number | undefined) => ({
      api: endpoint.api,
      timeoutMs,
      signal,
      ...(scheduledMs === undefined ? {} : { scheduledMs }),
      ...(counter.source === null ? {} : { countTokens: counter.count }),
    });
    /** The history of each conversation being played, by session: what its next turn resends. */
    const sessions = new Map<number, Array<{ role: string; content: string }>>();
    const sendTurn = async (scheduledMs: number | undefined, ref: TurnRef) => {
      const conversation = conversations![ref.conversation]!;
      const turn = conversation.turns[ref.turn]!;
      const history = (ref.turn > 0 ? sessions.get(ref.session) : undefined) ?? [...conversation.system];
      history.push({ role: 'user', content: turn.content });
      const prompt: Prompt = {
        text: history.map((message) => message.content).join('\n'),
        messages: history,
        ...(turn.maxTokens === undefined ? {} : { maxTokens: turn.maxTokens }),
      };
      const body = requestBody(endpoint.api, prompt, {
        model,
        maxTokens,
        ...(options.temperature === undefined ? {} : { temperature: options.temperature }),
      });
      const sample = await sendStreamingRequest(
        pool,
        { path: endpoint.path, headers, body },
        { ...sendOptions(scheduledMs), keepText: true },
      );
      if (sample?.ok && ref.turn + 1 < conversation.turns.length) {
        history.push({ role: 'assistant', content: sample.text ?? '' });
        sessions.set(ref.session, history);
      } else sessions.delete(ref.session);
      if (!sample) return null;
      const { text: _text, ...measured } = sample;
      return { ...measured, turn: ref.turn + 1 };
    };
    const send: Send = (scheduledMs, what) => {
      if (typeof what === 'object') return sendTurn(scheduledMs, what);
      const request = requests[what ?? next]!;
      if (what === undefined) next = (next + 1) % requests.length;
      return sendStreamingRequest(pool, request, sendOptions(scheduledMs));
    };

    const runs: EndpointRun[] = [];
    let stoppedEarly: string | undefined;
    const slo = options.slo && Object.keys(options.slo).length > 0 ? options.slo : null;
    const attainment = options.sloAttainment ?? 0.9;
    const measure = async (step: StepSpec): Promise<void> => {
      const plan: StepPlan = {
        label: step.label,
        // A trace is measured whole unless a warm-up is asked for: its first requests are part of the recording.
        warmupMs: options.warmupMs ?? (load.kind === 'schedule' ? 0 : 5000),
        ...(load.kind === 'schedule'
          ? { requests: load.requests }
          : options.requests === undefined
            ? { durationMs: options.durationMs ?? 30_000 }
            : { requests: share(options.requests, worker) }),
        slo,
        signal,
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        ...(options.onSample ? { onSample: (sample: RequestSample) => options.onSample!(sample, step.label) } : {}),
      };
      // Sampled on the step's own clock: t = 0 where its measured window begins.
      const scraper =
        scrapeSources.length > 0
          ? new Scraper(scrapeSources, options.scrapeIntervalMs ?? 1000, performance.now() + plan.warmupMs)
          : undefined;
      let outcome: StepOutcome;
      if (step.share === 0) {
        // This worker's share of a small level is nothing; it still waits out the step so workers stay in step.
        await sleep(plan.warmupMs + (plan.durationMs ?? 0), undefined, { signal }).catch(() => undefined);
        outcome = await runConcurrencyStep({ ...plan, warmupMs: 0, durationMs: 0 }, send, 0);
      } else if (conversations && load.kind === 'concurrency') {
        outcome = await runConversationStep(
          plan,
          send,
          step.share,
          conversations.map((conversation) => conversation.turns.length),
        );
        // Conversations the step's end cut short are not continued in the next step.
        sessions.clear();
      } else if (load.kind === 'concurrency') outcome = await runConcurrencyStep(plan, send, step.share);
      else if (load.kind === 'users')
        outcome = await runUsersStep(plan, send, step.share, load.spawnRate / worker.count);
      else if (load.kind === 'schedule') {
        const primed = await primeClient(
          pool,
          {
            path: endpoint.path,
            headers,
            body: requestBody(endpoint.api, { text: 'warm-up' }, { model, maxTokens: 1 }),
          },
          sendOptions(undefined),
        );
        outcome = await runScheduleStep(plan, send, trace!.offsetsMs);
        outcome.warmup.requests += primed;
      } else {
        outcome = await runRateStep(plan, send, step.share, {
          arrival: load.arrival,
          ...(load.burstiness === undefined ? {} : { burstiness: load.burstiness }),
          seed: (options.seed ?? 1) * 104729 + worker.index * 31 + runs.length,
          phase: worker.index / worker.count,
        });
      }
      const { interrupted, ...metrics } = outcome;
      const scrape = scraper
        ? await scraper.stop({ durationS: metrics.durationS, outputTokensPerSecond: metrics.outputTokensPerSecond })
        : undefined;
      runs.push({
        ...step.level,
        ...(worker.count > 1 ? { workerShare: step.share } : {}),
        ...metrics,
        ...(scrape ? { scrape } : {}),
        metSlo: metrics.sloAttainment === null ? null : metrics.sloAttainment >= attainment,
        ...(interrupted ? { interrupted: true } : {}),
      });
      // A server that went away (crashed under the last load, say) cannot be measured at the next one.
      if (metrics.requests > 0 && metrics.errorsByKind.connection === metrics.requests) {
        stoppedEarly = `every request at ${step.label} failed to connect: the server is gone, so the heavier steps were not run`;
      }
    };
    const search =
      options.findMax && (load.kind === 'concurrency' || load.kind === 'rate')
        ? {
            variable: load.kind,
            low: load.levels[0]!,
            high: load.levels[1]!,
            tolerance: options.findMax.tolerance ?? 0.02,
          }
        : undefined;
    if (search) {
      const levels = bisectLoad(search.variable, search.low, search.high, search.tolerance);
      for (
        let next = levels.next();
        !next.done && !signal.aborted && !stoppedEarly;
        next = levels.next(runs[runs.length - 1]!.metSlo === true)
      ) {
        await measure(levelStep(load, next.value, worker));
      }
    } else {
      for (const step of steps(load, worker)) {
        if (signal.aborted || stoppedEarly) break;
        await measure(step);
      }
    }

    return {
      schemaVersion: 1,
      kind: 'endpoint',
      target: endpoint.display,
      api: endpoint.api,
      model,
      load,
      prompts: trace
        ? { source: 'schedule', tokens: null, tokenizer: counter.source, dataset: null, count: prompts.length }
        : options.dataset
          ? {
              source: 'dataset',
              tokens: null,
              tokenizer: counter.source,
              dataset: options.dataset,
              count: prompts.length,
              ...(conversations
                ? {
                    conversations: {
                      count: conversations.length,
                      turns: conversations.reduce((sum, c) => sum + c.turns.length, 0),
                    },
                  }
                : {}),
            }
          : {
              source: 'synthetic',
              tokens: promptTokens,
              tokenizer: counter.source,
              dataset: null,
              count: prompts.length,
              ...(options.prefix ? { prefix: options.prefix } : {}),
            },
      maxTokens,
      slo,
      sloAttainment: attainment,
      runs,
      knee: findKnee(runs),
      capacity: search ? capacityAtLimit(runs, slo, search.variable) : findCapacity(runs, slo),
      ...(search
        ? { findMax: summarizeFindMax(search.variable, search.low, search.high, search.tolerance, runs) }
        : {}),
      selfCheck: clientSelfCheck(runs),
      workers: 1,
      ...(worker.count > 1 ? { worker } : {}),
      ...(stoppedEarly ? { stoppedEarly } : {}),
      startedAt,
      interrupted: signal.aborted,
    };
  } finally {
    signal.removeEventListener('abort', stop);
    await pool.destroy().catch(() => undefined);
  }
}

interface StepSpec {
  label: string;
  share: number;
  level: Partial<EndpointRun>;
}

/** The step of one concurrency or rate level. */
function levelStep(load: LoadShape, level: number, worker: { index: number; count: number }): StepSpec {
  if (load.kind === 'concurrency')
    return { label: `c=${level}`, share: share(level, worker), level: { concurrency: level } };
  return { label: `${level} req/s`, share: level / worker.count, level: { rate: level } };
}

/** After --find-max, the capacity deploy reads is the limit the search found: the heaviest load that met the SLO. */
function capacityAtLimit(runs: EndpointRun[], slo: Slo | null, variable: 'concurrency' | 'rate'): Capacity | null {
  if (!slo) return null;
  const met = runs
    .map((run, index) => ({ run, index }))
    .filter(({ run }) => run.metSlo === true && run.requestsPerSecond > 0);
  if (met.length === 0) return null;
  const { run, index } = met.reduce((a, b) => ((b.run[variable] ?? 0) > (a.run[variable] ?? 0) ? b : a));
  return { ...stepFacts(run, index), slo };
}

/** One step per load level; `share` is this worker's part of it, `level` what the run records (the whole level). */
function* steps(load: LoadShape, worker: { index: number; count: number }): Generator<StepSpec> {
  if (load.kind === 'users') {
    yield {
      label: `users=${load.users}`,
      share: share(load.users, worker),
      level: { users: load.users, spawnRate: load.spawnRate },
    };
    return;
  }
  if (load.kind === 'schedule') {
    yield {
      label: 'trace',
      share: 1,
      level: { rate: load.spanS > 0 ? round3(load.requests / load.spanS) : load.requests, trace: load.file },
    };
    return;
  }
  for (const level of load.levels) yield levelStep(load, level, worker);
}

/** Worker `index`'s part of an integer amount split as evenly as possible among `count` workers. */
export function share(amount: number, worker: { index: number; count: number }): number {
  return Math.floor(amount / worker.count) + (worker.index < amount % worker.count ? 1 : 0);
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function validateOptions(
  options: EndpointBenchOptions,
  load: LoadShape,
  worker: { index: number; count: number },
): void {
  if (options.schedule) {
    if (options.load)
      throw usageError('--schedule replays a trace: it takes no --concurrency, --rate or --users', 'INVALID_LOAD');
    if (options.dataset) throw usageError('--schedule brings its own prompts: it takes no --dataset', 'INVALID_LOAD');
    if (options.durationMs !== undefined)
      throw usageError(
        '--schedule replays the whole trace: use --requests N to replay its first N lines, not --duration',
        'INVALID_LOAD',
      );
    if (worker.count > 1) throw usageError('--schedule cannot be split over --workers yet', 'INVALID_LOAD');
    if (!(options.schedule.timeScale === undefined || options.schedule.timeScale > 0))
      throw usageError(`Expected --time-scale > 0, got ${options.schedule.timeScale}`, 'INVALID_LOAD');
  }
  if (options.findMax) {
    if (!options.slo || Object.keys(options.slo).length === 0)
      throw usageError('--find-max searches for the highest load meeting an SLO: give --slo', 'INVALID_FIND_MAX', {
        hint: 'e.g. --find-max --concurrency 1,64 --slo ttft=500ms',
      });
    if (
      (load.kind !== 'concurrency' && load.kind !== 'rate') ||
      options.schedule ||
      load.levels.length !== 2 ||
      !(load.levels[0]! < load.levels[1]!)
    ) {
      throw usageError(
        '--find-max needs the bounds to search between as --concurrency LOW,HIGH or --rate LOW,HIGH (LOW < HIGH)',
        'INVALID_FIND_MAX',
      );
    }
    if (worker.count > 1)
      throw usageError('--find-max cannot be split over --workers: each would search on its own', 'INVALID_FIND_MAX');
    const tolerance = options.findMax.tolerance;
    if (tolerance !== undefined && !(tolerance > 0 && tolerance < 1))
      throw usageError(`Expected --find-max-tolerance in (0%, 100%), got ${tolerance * 100}%`, 'INVALID_FIND_MAX');
  }
  if (options.multiTurn && (!options.dataset || load.kind !== 'concurrency' || options.schedule)) {
    throw usageError(
      '--multi-turn plays the conversations of a --dataset, closed loop: give --dataset FILE and --concurrency (not --rate, --users or --schedule)',
      'INVALID_LOAD',
    );
  }
  if (options.prefix && (options.dataset || options.schedule))
    throw usageError(
      '--prefix-tokens shapes synthetic prompts: it takes no --dataset or --schedule',
      'INVALID_PROMPTS',
    );
  if (load.kind === 'rate' && load.burstiness !== undefined && load.arrival !== 'gamma')
    throw usageError('--burstiness goes with --arrival gamma', 'INVALID_LOAD');
  if (load.kind === 'rate' && load.burstiness !== undefined && !(load.burstiness > 0))
    throw usageError(`Expected --burstiness > 0, got ${load.burstiness}`, 'INVALID_LOAD');
  if (load.kind !== 'users' && load.kind !== 'schedule' && load.levels.length === 0)
    throw usageError('Expected at least one load level', 'INVALID_LOAD');
  if (options.durationMs !== undefined && options.requests !== undefined)
    throw usageError('Give --duration or --requests, not both', 'INVALID_LOAD');
  if (
    !Number.isInteger(worker.count) ||
    worker.count < 1 ||
    !Number.isInteger(worker.index) ||
    worker.index < 0 ||
    worker.index >= worker.count
  ) {
    throw usageError(`worker index ${worker.index} is not in 0…${worker.count - 1}`, 'INVALID_WORKER', {
      hint: 'JOB_COMPLETION_INDEX (or --worker-index) must be below --workers',
    });
  }
  if (options.sloAttainment !== undefined && !(options.sloAttainment > 0 && options.sloAttainment <= 1)) {
    throw usageError(`Expected --slo-attainment in (0, 1], got ${options.sloAttainment}`, 'INVALID_SLO');
  }
}

function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([key, value]) => [key.toLowerCase(), value]));
}

/**
 * The model name for OpenAI requests: the one given, else the server's first model (GET /v1/models, which also tells
 * early and clearly that the server is unreachable or wants a key). TGI serves one model and takes no name.
 */
async function resolveModelName(
  pool: Pool,
  endpoint: Endpoint,
  given: string | undefined,
  headers: Record<string, string>,
): Promise<string | null> {
  const probePath = given === undefined && endpoint.api !== 'tgi' ? '/v1/models' : '/';
  let response;
  try {
    const auth = headers.authorization === undefined ? {} : { authorization: headers.authorization };
    response = await pool.request({
      method: 'GET',
      path: probePath,
      headers: auth,
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new LlmopsError(`cannot reach ${endpoint.origin}: ${code}`, 'ENDPOINT_UNREACHABLE', {
      hint: 'is the server running, and is the URL right?',
    });
  }
  const text = await response.body.text().catch(() => '');
  if (probePath === '/' || given !== undefined) return given ?? null;
  if (response.statusCode === 401 || response.statusCode === 403) {
    throw usageError(
      `${endpoint.origin}/v1/models answered ${response.statusCode}: the server wants an API key`,
      'ENDPOINT_UNAUTHORIZED',
      {
        hint: 'set LLMOPS_API_KEY, or pass --header "Authorization: Bearer …"',
      },
    );
  }
  const id = response.statusCode === 200 ? firstModelId(text) : undefined;
  if (!id) {
    throw usageError(
      `cannot tell which model ${endpoint.origin} serves (GET /v1/models answered ${response.statusCode})`,
      'ENDPOINT_MODEL_UNKNOWN',
      { hint: 'pass --model NAME' },
    );
  }
  return id;
}

function firstModelId(text: string): string | undefined {
  try {
    const id = (JSON.parse(text) as { data?: Array<{ id?: unknown }> }).data?.[0]?.id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

/** Connections a trace replay opens, and requests each sends, before the trace's first due time. */
const PRIME_CONNECTIONS = 16;
const PRIME_ROUNDS = 2;

/**
 * Warms the client before a trace replay: a cold process sends the first ~300 ms of a trace late (measured: send lag
 * up to 16 ms at 500 req/s, against under 3 ms once warm), compiling its request and stream-parsing code and opening
 * connections inside the replay. A few one-token requests with a prompt of their own (so they seed no prefix cache
 * the trace could hit) open connections and run that code first; they are counted as warm-up, never measured.
 */
async function primeClient(
  pool: Pool,
  request: StreamingRequest,
  options: Parameters<typeof sendStreamingRequest>[2],
): Promise<number> {
  let sent = 0;
  await Promise.all(
    Array.from({ length: PRIME_CONNECTIONS }, async () => {
      for (let round = 0; round < PRIME_ROUNDS; round += 1) {
        await sendStreamingRequest(pool, request, options);
        sent += 1;
      }
    }),
  );
  return sent;
}
