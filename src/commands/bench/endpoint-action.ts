import type { EndpointBenchOptions } from '../../bench/endpoint/run.js';
import type { EndpointBenchResult, LoadShape } from '../../bench/endpoint/types.js';
import type { GateResult } from '../../bench/gate.js';
import { ExitCode, usageError, VerdictError } from '../../errors.js';
import { fmt } from '../../ui/table.js';
import type { CommandContext } from '../context.js';
import type { EndpointBenchFlags } from './endpoint-flags.js';

/**
 * `llmops bench URL`: flags → benchEndpoint → table or JSON → --out / --csv / --report → gate. After the result is
 * printed, a VerdictError says exit 3 when --slo was given and no step met it, or a step regressed against
 * --baseline; 130 after saving the partial results of an interrupted run.
 */
export async function runEndpointBench(
  ctx: CommandContext,
  flags: EndpointBenchFlags,
  url: string,
  argv: string[],
): Promise<void> {
  if (flags.emitK8sJob) return emitWorkerJob(ctx, flags, argv);
  const [
    { benchEndpoint },
    print,
    { renderGate, gateFailure },
    { assertWritable, writeResultsFile },
    { RequestsCsvWriter, locustStatsCsv },
  ] = await Promise.all([
    import('../../bench/endpoint/run.js'),
    import('./endpoint-print.js'),
    import('./gate-print.js'),
    import('../../bench/results-file.js'),
    import('../../bench/endpoint/csv.js'),
  ]);
  const statsCsv = flags.csv ? `${flags.csv}_stats.csv` : undefined;
  const requestsCsv = flags.csv ? `${flags.csv}_requests.csv` : undefined;
  for (const [file, flag] of [
    [flags.out, '--out'],
    [statsCsv, '--csv'],
    [requestsCsv, '--csv'],
    [flags.report, '--report'],
  ] as const) {
    await assertWritable(file, { force: flags.force, flag });
  }
  // A bad baseline fails now, not after a long load test.
  const gateModule = flags.baseline ? await import('../../bench/gate.js') : undefined;
  if (flags.baseline) await gateModule!.readBaseline(flags.baseline);
  const options: EndpointBenchOptions = {
    url,
    api: flags.api,
    model: flags.model,
    load: loadShape(flags),
    durationMs: flags.duration,
    requests: flags.requests,
    warmupMs: flags.warmupMs,
    promptTokens: flags.promptTokens,
    maxTokens: flags.maxTokens,
    dataset: flags.dataset,
    schedule: scheduleOf(flags),
    multiTurn: flags.multiTurn,
    repeat: flags.repeat,
    scrape: flags.scrape,
    scrapeIntervalMs: scrapeIntervalOf(flags),
    prefix: prefixOf(flags),
    tokenizer: flags.tokenizer,
    slo: flags.slo,
    sloAttainment: flags.sloAttainment,
    findMax: findMaxOf(flags),
    headers: parseHeaders(flags.header ?? []),
    timeoutMs: flags.timeout,
    temperature: flags.temperature,
    seed: flags.seed,
    maxConnections: flags.maxConnections,
    worker: workerOf(flags),
    signal: ctx.signal,
  };
  const { performance } = await import('node:perf_hooks');
  const requestsWriter = requestsCsv ? await RequestsCsvWriter.open(requestsCsv, performance.now()) : undefined;
  if (requestsWriter) options.onSample = (sample, step) => requestsWriter.add(sample, step);

  // A TTY gets a live line; CI logs get one line per finished step, not a redraw every quarter second.
  const spinner = ctx.output.interactive ? await ctx.output.spinner(`load-testing ${url}`) : undefined;
  options.onProgress = (p) => {
    if (spinner) {
      const window = p.warmingUp
        ? 'warming up'
        : p.windowS === null
          ? `${p.elapsedS}s`
          : `${p.elapsedS}s/${p.windowS + (options.warmupMs ?? 5000) / 1000}s`;
      spinner.update(
        `${p.step} · ${window} · ${p.completed} requests · ${p.requestsPerSecond} req/s · ${p.errors} errors · TTFT p50 ${fmt(p.ttftP50Ms(), 1)} ms`,
      );
    } else if (p.phase === 'start') ctx.output.info(`${p.step}: running`);
    else if (p.phase === 'done')
      ctx.output.info(`${p.step}: ${p.completed} requests, ${p.errors} errors in ${p.elapsedS}s`);
  };
  let result: EndpointBenchResult;
  try {
    result = await benchEndpoint(options);
  } catch (error) {
    await requestsWriter?.close(false);
    throw error;
  } finally {
    spinner?.stop();
  }
  await requestsWriter?.close(true);

  // Saved before any verdict, and on an interrupt too: a CI job keeps what was measured.
  if (flags.out)
    await writeResultsFile(flags.out, `${JSON.stringify(result, null, 2)}\n`, { force: flags.force, flag: '--out' });
  if (statsCsv) await writeResultsFile(statsCsv, locustStatsCsv(result), { force: flags.force, flag: '--csv' });
  if (flags.report) {
    const { renderHtmlReport } = await import('../../bench/endpoint/report.js');
    await writeResultsFile(flags.report, renderHtmlReport(result), { force: flags.force, flag: '--report' });
  }
  let gate: GateResult | undefined;
  if (flags.baseline && gateModule && !result.interrupted) {
    const baseline = await gateModule.loadBaseline(flags.baseline, result);
    const maxRegression = flags.maxRegression ?? (await ctx.config()).config.bench.maxRegression;
    gate = gateModule.compareToBaseline(result, baseline, { maxRegression });
  }
  const color = ctx.output.options.color;
  ctx.output.result(gate ? { ...result, gate } : result, () =>
    [print.renderEndpointResult(result, { color }), gate ? renderGate(gate, { color }) : '']
      .filter(Boolean)
      .join('\n\n'),
  );

  if (result.interrupted)
    throw new VerdictError(
      [`partial results${flags.out ? ` saved to ${flags.out}` : ''}`],
      'INTERRUPTED',
      ExitCode.Interrupted,
    );
  const failures = [
    ...(result.slo && !result.capacity ? ['SLO check failed: no step met every SLO'] : []),
    ...(gate && !gate.passed ? [gateFailure(gate, flags.baseline!)] : []),
  ];
  if (failures.length > 0)
    throw new VerdictError(failures, gate && !gate.passed ? 'GATE_FAILED' : 'SLO_FAILED', ExitCode.CheckFailed);
}

function loadShape(flags: EndpointBenchFlags): LoadShape | undefined {
  const given = [
    flags.concurrency && '--concurrency',
    flags.rate && '--rate',
    flags.users !== undefined && '--users',
  ].filter(Boolean);
  if (given.length > 1) throw usageError(`${given.join(' and ')} are different load shapes; give one`, 'INVALID_LOAD');
  if (flags.spawnRate !== undefined && flags.users === undefined)
    throw usageError('--spawn-rate goes with --users', 'INVALID_LOAD');
  if (flags.arrival !== undefined && !flags.rate) throw usageError('--arrival goes with --rate', 'INVALID_LOAD');
  if (flags.burstiness !== undefined && flags.arrival !== 'gamma')
    throw usageError('--burstiness goes with --arrival gamma', 'INVALID_LOAD');
  if (flags.rate)
    return {
      kind: 'rate',
      levels: flags.rate,
      arrival: flags.arrival ?? 'poisson',
      ...(flags.arrival === 'gamma' ? { burstiness: flags.burstiness ?? 1 } : {}),
    };
  if (flags.users !== undefined)
    return { kind: 'users', users: flags.users, spawnRate: flags.spawnRate ?? flags.users };
  if (flags.concurrency) return { kind: 'concurrency', levels: flags.concurrency };
  return undefined;
}

function scrapeIntervalOf(flags: EndpointBenchFlags): number | undefined {
  if (flags.scrapeInterval !== undefined && !flags.scrape)
    throw usageError('--scrape-interval goes with --scrape', 'INVALID_SCRAPE');
  return flags.scrapeInterval;
}

function findMaxOf(flags: EndpointBenchFlags): EndpointBenchOptions['findMax'] {
  if (flags.findMaxTolerance !== undefined && !flags.findMax)
    throw usageError('--find-max-tolerance goes with --find-max', 'INVALID_FIND_MAX');
  return flags.findMax
    ? flags.findMaxTolerance === undefined
      ? {}
      : { tolerance: flags.findMaxTolerance }
    : undefined;
}

function scheduleOf(flags: EndpointBenchFlags): EndpointBenchOptions['schedule'] {
  if (flags.timeScale !== undefined && flags.schedule === undefined)
    throw usageError('--time-scale goes with --schedule', 'INVALID_LOAD');
  return flags.schedule === undefined ? undefined : { file: flags.schedule, timeScale: flags.timeScale ?? 1 };
}

function prefixOf(flags: EndpointBenchFlags): EndpointBenchOptions['prefix'] {
  if (flags.prefixCount !== undefined && flags.prefixTokens === undefined)
    throw usageError('--prefix-count goes with --prefix-tokens', 'INVALID_PROMPTS');
  return flags.prefixTokens === undefined ? undefined : { tokens: flags.prefixTokens, count: flags.prefixCount ?? 1 };
}

/** `K:V` pairs → headers. Values are secrets as far as output goes: they are sent, never printed or saved. */
export function parseHeaders(pairs: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const pair of pairs) {
    const colon = pair.indexOf(':');
    const name = colon > 0 ? pair.slice(0, colon).trim() : '';
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name))
      throw usageError(`Expected \`--header\` as NAME:VALUE, got a header without a valid name`, 'INVALID_HEADER');
    headers[name.toLowerCase()] = pair.slice(colon + 1).trim();
  }
  return headers;
}

/** This process's part of a distributed run: --worker-index, else the Indexed Job's JOB_COMPLETION_INDEX. */
function workerOf(flags: EndpointBenchFlags): { index: number; count: number } | undefined {
  if (flags.workers === undefined) {
    if (flags.workerIndex !== undefined) throw usageError('--worker-index goes with --workers', 'INVALID_WORKER');
    return undefined;
  }
  const fromEnv = process.env.JOB_COMPLETION_INDEX;
  const index = flags.workerIndex ?? (fromEnv !== undefined && /^\d+$/.test(fromEnv) ? Number(fromEnv) : 0);
  return { index, count: flags.workers };
}

/** `--emit-k8s-job`: the Indexed Job that runs this same bench on --workers pods, on stdout; how to collect, on stderr. */
async function emitWorkerJob(ctx: CommandContext, flags: EndpointBenchFlags, argv: string[]): Promise<void> {
  const [{ buildBenchWorkerJob }, { toYaml }] = await Promise.all([
    import('../../bench/endpoint/k8s-job.js'),
    import('../../k8s/serialize.js'),
  ]);
  if (flags.workers === undefined) throw usageError('--emit-k8s-job needs --workers N', 'INVALID_WORKERS');
  if (!flags.image)
    throw usageError(
      '--emit-k8s-job needs --image: an image whose entrypoint is llmops, pinned by tag or digest',
      'IMAGE_REQUIRED',
    );
  const credential = Object.keys(parseHeaders(flags.header ?? [])).find((name) => CREDENTIAL_HEADER.test(name));
  if (credential) {
    throw usageError(`the ${credential} header would be written into the Job in clear text`, 'SECRET_IN_JOB', {
      hint: 'keep the key in a Secret and pass --api-key-secret NAME:KEY',
    });
  }
  let apiKeySecret: { name: string; key: string } | undefined;
  if (flags.apiKeySecret) {
    const [name, key] = flags.apiKeySecret.split(':');
    apiKeySecret = { name: name ?? '', key: key ?? 'api-key' };
  }
  const { job, collect } = buildBenchWorkerJob({
    name: flags.name ?? 'llmops-bench',
    namespace: flags.namespace,
    image: flags.image,
    workers: flags.workers,
    benchArgs: workerArgs(argv),
    apiKeySecret,
  });
  ctx.output.result(job, () => `---\n${toYaml(job)}`);
  ctx.output.info(collect);
}

/** Header names that carry credentials: never copied into a manifest. */
const CREDENTIAL_HEADER = /auth|key|token|secret|cookie|session|password/i;

/** Flags that concern this process only (outputs, the Job itself, global output modes), with whether they take a value. */
const LOCAL_FLAGS: Record<string, boolean> = {
  '--emit-k8s-job': false,
  '--workers': true,
  '--worker-index': true,
  '--image': true,
  '--namespace': true,
  '--name': true,
  '--api-key-secret': true,
  '--out': true,
  '--csv': true,
  '--report': true,
  '--force': false,
  '--json': false,
  '--quiet': false,
  '-q': false,
  '--verbose': false,
  '-v': false,
  '--no-color': false,
  '--config': true,
  '-c': true,
};

/** The worker's argv: this command's, from `bench` on, without the flags that only concern this process. */
export function workerArgs(argv: string[]): string[] {
  const start = argv.indexOf('bench');
  const args: string[] = [];
  for (let i = start; i < argv.length; i += 1) {
    const arg = argv[i]!;
    const name = arg.startsWith('-') ? arg.split('=')[0]! : arg;
    if (name in LOCAL_FLAGS) {
      if (LOCAL_FLAGS[name] && !arg.includes('=')) i += 1;
      continue;
    }
    args.push(arg);
  }
  return args;
}
