import { Command, Option } from 'commander';
import { EXECUTION_PROVIDERS } from '../../engine/session.js';
import { usageError } from '../../errors.js';
import { action } from '../context.js';
import {
  collect,
  duration,
  nonNegativeInt,
  nonNegativeNumber,
  percentage,
  positiveInt,
  positiveIntList,
  positiveNumber,
  positiveNumberList,
  probability,
} from '../options.js';
import type { EngineBenchFlags } from './engine-action.js';
import type { EndpointBenchFlags } from './endpoint-action.js';

/** Flags only one side of bench understands; giving one to the other side is a usage error, not silently ignored. */
const ENGINE_ONLY = [
  'provider',
  'threads',
  'batch',
  'genTokens',
  'iterations',
  'shape',
  'inputs',
  'dtype',
  'kvCache',
  'gpuPrice',
  'tensorrtImage',
] as const;
const ENDPOINT_ONLY = [
  'api',
  'model',
  'concurrency',
  'rate',
  'arrival',
  'burstiness',
  'schedule',
  'timeScale',
  'prefixTokens',
  'prefixCount',
  'multiTurn',
  'users',
  'spawnRate',
  'requests',
  'maxTokens',
  'dataset',
  'tokenizer',
  'slo',
  'sloAttainment',
  'findMax',
  'findMaxTolerance',
  'repeat',
  'scrape',
  'scrapeInterval',
  'header',
  'selfTest',
  'timeout',
  'temperature',
  'seed',
  'maxConnections',
  'report',
  'workers',
  'workerIndex',
  'emitK8sJob',
  'image',
  'namespace',
  'name',
  'apiKeySecret',
] as const;

/** Flags as commander hands them over: the shared ones whose meaning depends on the target are still strings. */
type BenchFlags = Omit<EngineBenchFlags, 'warmup' | 'promptTokens'> &
  Omit<EndpointBenchFlags, 'warmupMs' | 'promptTokens' | 'slo'> & {
    warmup?: string;
    promptTokens?: string;
    slo?: string;
    selfTest?: boolean;
  };

/** What --self-test takes besides itself: the load, its timing and where to save. */
const SELF_TEST_FLAGS = new Set(['selfTest', 'concurrency', 'duration', 'warmup', 'out', 'force']);

/** `llmops bench TARGET`: a model is benchmarked on this machine, a URL is load-tested; `bench merge` combines workers. */
export function benchCommand(): Command {
  const command = new Command('bench')
    .description(
      'benchmark a model on this machine (TTFT, TPOT, tokens/s, memory, cost) or load-test a streaming endpoint (TTFT, ITL, QPS, saturation)',
    )
    .argument(
      '[target]',
      'model directory, compile artifact, .onnx file or TensorRT .plan (default: the embedded tiny model), or an http(s):// endpoint',
    )
    .option(
      '--duration <time>',
      'measure each configuration / load step this long, e.g. 30s (endpoint default 30s)',
      duration,
    )
    .option(
      '--warmup <n|time>',
      'model: warm-up iterations (default 1 LLM, 10 generic); endpoint: warm-up time per step (default 5s)',
    )
    .option(
      '--prompt-tokens <list>',
      'model: prompt lengths, e.g. 128,512 (default 128); endpoint: MEAN[,STDDEV] of synthetic prompts (default 128)',
    )
    .option('--out <file>', 'write the results JSON here')
    .option(
      '--csv <file>',
      'model: one CSV row per configuration; endpoint: PREFIX for Locust-style PREFIX_stats.csv and PREFIX_requests.csv',
    )
    .option('--force', 'replace existing output files')
    .option('--baseline <file>', 'results file to compare with: exit 3 when a metric regressed beyond noise')
    .option(
      '--max-regression <pct>',
      'tolerated regression against --baseline (default 5%, config bench.maxRegression)',
      percentage,
    )
    .optionsGroup('Model benchmark:')
    .addOption(
      new Option('--provider <name>', 'ONNX Runtime execution provider (default: config engine.provider, cpu)').choices(
        EXECUTION_PROVIDERS,
      ),
    )
    .option('--threads <n>', 'ONNX Runtime intra-op threads', positiveInt)
    .option('--batch <list>', 'batch sizes, comma-separated (default 1)', positiveIntList)
    .option('--gen-tokens <n>', 'tokens generated per sequence (default 128)', positiveInt)
    .addOption(
      new Option('--iterations <n>', 'measured iterations per configuration (default 10 LLM, 100 generic)')
        .argParser(positiveInt)
        .conflicts('duration'),
    )
    .option('--shape <name=dim>', 'symbolic dimension (batch=8) or input shape (x=1x3x224x224); repeatable', collect)
    .addOption(
      new Option('--inputs <kind>', 'prompt token ids from the tokenizer on a fixed text, or synthetic').choices([
        'text',
        'synthetic',
      ]),
    )
    .option('--dtype <dtype>', 'ONNX variant in transformers.js layout, e.g. fp16, q8')
    .addOption(
      new Option(
        '--kv-cache <path>',
        'LLM decode steps: a new present tensor per step (naive, default) or pre-allocated output buffers',
      ).choices(['naive', 'preallocated']),
    )
    .option(
      '--gpu-price <usd>',
      'GPU price in USD per hour, for $ per million tokens (config bench.gpuPricePerHour)',
      nonNegativeNumber,
    )
    .option('--tensorrt-image <image>', 'TensorRT container for .plan engines')
    .optionsGroup('Endpoint load test:')
    .addOption(
      new Option('--api <api>', 'request and stream format (default: from the URL path, else openai-chat)').choices([
        'openai-chat',
        'openai-completions',
        'vllm',
        'tgi',
      ]),
    )
    .option('--model <name>', "model name in OpenAI requests (default: the server's first model from GET /v1/models)")
    .option(
      '--concurrency <list>',
      'closed loop: requests in flight per step, e.g. 1,8,32 (the default)',
      positiveIntList,
    )
    .option('--rate <list>', 'open loop: requests per second per step, e.g. 5,10,20', positiveNumberList)
    .addOption(
      new Option('--arrival <kind>', 'open-loop arrivals (default poisson)').choices(['poisson', 'constant', 'gamma']),
    )
    .option(
      '--burstiness <k>',
      'with --arrival gamma: gamma shape K, gaps with CV 1/√K (K < 1 burstier than Poisson; default 1)',
      positiveNumber,
    )
    .option(
      '--schedule <trace.jsonl>',
      'replay a trace: JSONL of {timestamp (ms), input_length, output_length[, hash_ids]} or {timestamp, prompt|messages, max_tokens}',
    )
    .option(
      '--time-scale <f>',
      "with --schedule: multiply the trace's gaps by F (0.5 replays twice as fast; default 1)",
      positiveNumber,
    )
    .option('--users <n>', 'Locust-style ramp: this many closed-loop users…', positiveInt)
    .option('--spawn-rate <r>', '…started at this many per second (default: all at once)', positiveNumber)
    .addOption(
      new Option('--requests <n>', 'send this many requests per step instead of a --duration')
        .argParser(positiveInt)
        .conflicts('duration'),
    )
    .option('--max-tokens <n>', 'output tokens per request (default 128)', positiveInt)
    .option(
      '--dataset <file>',
      'prompts from JSONL ({"prompt"}, {"messages"}, ShareGPT {"conversations"}) instead of synthetic ones',
    )
    .option(
      '--multi-turn',
      'play the --dataset conversations turn by turn: each turn after the previous answer, with the history resent; per-turn TTFT',
    )
    .option(
      '--prefix-tokens <n>',
      'synthetic prompts start with a shared prefix of N tokens (a prefix-cache workload)',
      positiveInt,
    )
    .option(
      '--prefix-count <m>',
      'with --prefix-tokens: M distinct shared prefixes, prompt i uses prefix i mod M (default 1)',
      positiveInt,
    )
    .option(
      '--tokenizer <path>',
      'tokenizer.json or model directory: synthetic prompts get exact token counts (default: ~4 characters per token)',
    )
    .option(
      '--slo <spec>',
      'per-request SLOs, e.g. ttft=500ms,itl=100ms,tps=11,latency=30s: goodput, capacity, exit 3 when no step meets them',
    )
    .option(
      '--find-max',
      'bisect between --concurrency LOW,HIGH (or --rate LOW,HIGH) to the highest load meeting --slo; that load is the capacity',
    )
    .option(
      '--find-max-tolerance <pct>',
      'with --find-max: stop when the bracket is this narrow relative to its top (default 2%)',
      percentage,
    )
    .option(
      '--scrape <url>',
      "sample a server's /metrics or a Prometheus …/api/v1/query?query=… URL during each step (queue, batch, KV cache, GPU power → tokens/J); repeatable",
      collect,
    )
    .option('--scrape-interval <time>', 'with --scrape: sampling period (default 1s)', duration)
    .option(
      '--repeat <n>',
      "make the whole run N times: each metric's mean and 95% interval per load level (results of the first)",
      positiveInt,
    )
    .option(
      '--slo-attainment <fraction>',
      "share of a step's requests that must meet every SLO (default 0.9)",
      probability,
    )
    .option('--header <name:value>', 'request header, repeatable (LLMOPS_API_KEY sets Authorization: Bearer)', collect)
    .option('--timeout <time>', 'a request not finished after this long counts as a timeout (default 120s)', duration)
    .option(
      '--temperature <t>',
      "sampling temperature sent with each request (default: the server's)",
      nonNegativeNumber,
    )
    .option('--seed <n>', 'seed of synthetic prompts and Poisson or gamma arrivals (default 1)', nonNegativeInt)
    .option('--max-connections <n>', 'most connections an open-loop step opens (default 10000)', positiveInt)
    .option('--report <file.html>', 'write a self-contained HTML report with charts')
    .option(
      '--self-test',
      'measure this client against a loopback server of known TTFT/ITL at --concurrency (default 400): its error and send lag; exit 3 above 5%',
    )
    .option(
      '--workers <n>',
      'distributed run: this process is one of N workers and offers 1/N of each load level',
      positiveInt,
    )
    .option('--worker-index <i>', 'which worker this is (default: JOB_COMPLETION_INDEX, else 0)', nonNegativeInt)
    .option(
      '--emit-k8s-job',
      'print a Kubernetes Indexed Job that runs --workers N workers of this bench, instead of running it',
    )
    .option('--image <image>', 'with --emit-k8s-job: a pinned image whose entrypoint is llmops')
    .option('--namespace <ns>', "with --emit-k8s-job: the Job's namespace")
    .option('--name <name>', "with --emit-k8s-job: the Job's name (default llmops-bench)")
    .option('--api-key-secret <name:key>', 'with --emit-k8s-job: Secret key that holds the API key (as LLMOPS_API_KEY)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ llmops bench\n  $ llmops bench ./models/tiny --batch 1,4 --prompt-tokens 32,128 --gen-tokens 64 --gpu-price 2.5\n' +
        '  $ llmops bench ./mlp.onnx --shape batch=8 --iterations 200\n  $ llmops bench ./artifact/model.plan --shape input=8x3x224x224\n' +
        '  $ llmops bench ./models/tiny --out current.json --baseline baseline.json --max-regression 5%\n' +
        '  $ llmops bench http://localhost:8000 --concurrency 1,8,32 --duration 60s --slo ttft=500ms,tps=11 --out load.json --report load.html\n' +
        '  $ llmops bench http://localhost:8000/v1/completions --rate 5,10,20 --arrival poisson --requests 500 --csv load\n' +
        '  $ llmops bench http://localhost:8000 --concurrency 8 --duration 30s --baseline main-load.json --max-regression 10%\n' +
        '  $ llmops bench http://localhost:8000 --find-max --concurrency 1,256 --slo ttft=500ms --duration 20s --out max.json\n' +
        '  $ llmops bench http://localhost:8000 --rate 20 --arrival gamma --burstiness 0.5 --prefix-tokens 512 --prefix-count 4\n' +
        '  $ llmops bench http://localhost:8000 --schedule trace.jsonl --time-scale 0.5 --tokenizer ./models/tiny\n' +
        '  $ llmops bench merge worker-0.json worker-1.json --out load.json\n',
    )
    .action(
      action<BenchFlags, [string | undefined]>(async (ctx, flags, target) => {
        if (flags.selfTest) {
          if (target !== undefined)
            throw usageError('--self-test runs its own loopback server: give no target', 'INVALID_FLAG');
          const other = Object.keys(flags).find(
            (name) => !SELF_TEST_FLAGS.has(name) && (flags as Record<string, unknown>)[name] !== undefined,
          );
          if (other)
            throw usageError(
              `--${other.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} does not apply to --self-test`,
              'INVALID_FLAG',
              { hint: 'it takes --concurrency N, --duration, --warmup and --out' },
            );
          const { runSelfTest } = await import('./self-test-action.js');
          const { warmup, concurrency, duration: time, out, force } = flags;
          await runSelfTest(ctx, {
            concurrency,
            duration: time,
            out,
            force,
            warmupMs: warmup === undefined ? undefined : convert('--warmup <n|time>', duration, warmup),
          });
          return;
        }
        if (target !== undefined && /^https?:\/\//i.test(target)) {
          rejectFlags(flags, ENGINE_ONLY, { target: 'an endpoint URL', belongsTo: 'a model' });
          const { runEndpointBench } = await import('./endpoint-action.js');
          const { parseSlo } = await import('../../bench/endpoint/slo.js');
          const { warmup, promptTokens, slo, ...rest } = flags;
          await runEndpointBench(
            ctx,
            {
              ...rest,
              warmupMs: warmup === undefined ? undefined : convert('--warmup <n|time>', duration, warmup),
              promptTokens:
                promptTokens === undefined ? undefined : convert('--prompt-tokens <list>', meanStddev, promptTokens),
              slo: slo === undefined ? undefined : convert('--slo <spec>', parseSlo, slo),
            },
            target,
            process.argv.slice(2),
          );
          return;
        }
        rejectFlags(flags, ENDPOINT_ONLY, { target: 'a model', belongsTo: 'an endpoint URL' });
        const { runEngineBench } = await import('./engine-action.js');
        const { warmup, promptTokens, ...rest } = flags;
        await runEngineBench(
          ctx,
          {
            ...rest,
            warmup: warmup === undefined ? undefined : convert('--warmup <n|time>', nonNegativeInt, warmup),
            promptTokens:
              promptTokens === undefined ? undefined : convert('--prompt-tokens <list>', positiveIntList, promptTokens),
          },
          target,
        );
      }),
    );
  command.addCommand(mergeCommand());
  command.addCommand(compareCommand());
  return command;
}

function mergeCommand(): Command {
  return new Command('merge')
    .description(
      'merge the results of distributed bench workers exactly (percentiles of the union of their HDR histograms)',
    )
    .argument('<files...>', 'results of `llmops bench URL … --workers N` (files, or pod logs holding the JSON)')
    .option('--out <file>', 'write the merged results JSON here')
    .option('--report <file.html>', 'write the HTML report of the merged run')
    .option('--force', 'replace existing output files')
    .addHelpText(
      'after',
      '\nExample:\n  $ llmops bench merge worker-0.json worker-1.json --out load.json --report load.html\n',
    )
    .action(
      withOutputFlags(
        action<{ out?: string; report?: string; force?: boolean }, [string[]]>(async (ctx, options, files) => {
          const { runMerge } = await import('./merge-action.js');
          await runMerge(ctx, options, files);
        }),
      ),
    );
}

function compareCommand(): Command {
  return new Command('compare')
    .description('compare two endpoint bench results level by level (repeat means and 95% intervals where present)')
    .argument('<a>', 'the first results file (A)')
    .argument('<b>', 'the second results file (B), compared with A')
    .option('--out <file>', 'write the comparison JSON here')
    .option('--report <file.html>', 'write an HTML page with the comparison and both runs')
    .option('--force', 'replace existing output files')
    .addHelpText('after', '\nExample:\n  $ llmops bench compare main.json branch.json --report compare.html\n')
    .action(
      withOutputFlags(
        action<{ out?: string; report?: string; force?: boolean }, [string, string]>(async (ctx, options, a, b) => {
          const { runCompare } = await import('./compare-action.js');
          await runCompare(ctx, options, a, b);
        }),
      ),
    );
}

/**
 * `bench` itself has --out, --report and --force, and commander gives an option the parent knows to the parent even
 * after a subcommand: a subcommand's action reads them from there too.
 */
function withOutputFlags(
  handler: (...commanderArgs: unknown[]) => Promise<void>,
): (...commanderArgs: unknown[]) => Promise<void> {
  return (...commanderArgs) => {
    const command = commanderArgs[commanderArgs.length - 1] as Command;
    const own = commanderArgs[commanderArgs.length - 2] as Record<string, unknown>;
    const parent = command.parent?.opts() ?? {};
    const outputs = Object.fromEntries(
      ['out', 'report', 'force'].filter((key) => parent[key] !== undefined).map((key) => [key, parent[key]]),
    );
    return handler(...commanderArgs.slice(0, -2), { ...outputs, ...own }, command);
  };
}

/** Refuses the flags of the other side: `names` are the flags meant for `belongsTo`, the target is `target`. */
function rejectFlags(flags: object, names: readonly string[], sides: { target: string; belongsTo: string }): void {
  const given = names.find((name) => (flags as Record<string, unknown>)[name] !== undefined);
  if (given === undefined) return;
  const flag = `--${given.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  throw usageError(`${flag} does not apply when the target is ${sides.target}`, 'INVALID_FLAG', {
    hint: `it is for ${sides.belongsTo}; see llmops bench --help`,
  });
}

/** Parses a flag whose meaning depends on the target, with commander's wording for a bad value (exit 2). */
function convert<T>(flag: string, parse: (value: string) => T, value: string): T {
  try {
    return parse(value);
  } catch (error) {
    throw usageError(
      `option '${flag}' argument '${value}' is invalid. ${(error as Error).message}`,
      'INVALID_ARGUMENT',
    );
  }
}

/** `128` or `128,32`: mean and standard deviation of prompt lengths in tokens. */
function meanStddev(value: string): { mean: number; stddev: number } {
  const [mean, stddev, extra] = value.split(',').map((part) => part.trim());
  if (extra !== undefined) throw new Error(`Expected MEAN[,STDDEV] such as 128 or 128,32, got \`${value}\`.`);
  return { mean: positiveInt(mean ?? ''), stddev: stddev === undefined ? 0 : nonNegativeInt(stddev) };
}
