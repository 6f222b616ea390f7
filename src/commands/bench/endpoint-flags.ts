import { Option } from 'commander';
import { ARRIVALS, type Arrival } from '../../bench/endpoint/arrivals.js';
import type { EndpointBenchOptions } from '../../bench/endpoint/run.js';
import { ENDPOINT_APIS } from '../../bench/endpoint/types.js';
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
} from '../flag-parsers.js';
import type { CommonBenchFlags } from './common-flags.js';

/**
 * The endpoint-bench flags as the endpoint action receives them (command.ts has converted the ones shared with the
 * model bench): `EndpointBenchOptions`' own keys where a flag maps onto one; the load shape, prompts, schedule and
 * the distributed run are assembled from several flags each.
 */
export type EndpointBenchFlags = Pick<
  EndpointBenchOptions,
  | 'api'
  | 'model'
  | 'requests'
  | 'promptTokens'
  | 'maxTokens'
  | 'dataset'
  | 'tokenizer'
  | 'slo'
  | 'sloAttainment'
  | 'temperature'
  | 'seed'
  | 'maxConnections'
  | 'multiTurn'
  | 'repeat'
  | 'scrape'
  | 'warmupMs'
> &
  Omit<CommonBenchFlags, 'warmup' | 'promptTokens'> & {
    concurrency?: number[];
    rate?: number[];
    arrival?: Arrival;
    burstiness?: number;
    schedule?: string;
    timeScale?: number;
    prefixTokens?: number;
    prefixCount?: number;
    findMax?: boolean;
    scrapeInterval?: number;
    findMaxTolerance?: number;
    users?: number;
    spawnRate?: number;
    header?: string[];
    timeout?: number;
    report?: string;
    workers?: number;
    workerIndex?: number;
    emitK8sJob?: boolean;
    image?: string;
    namespace?: string;
    name?: string;
    apiKeySecret?: string;
  };

/** Flags only an endpoint load test understands (command.ts refuses them with a model). */
export function endpointBenchFlags(): Option[] {
  return [
    new Option('--api <api>', 'request and stream format (default: from the URL path, else openai-chat)').choices(
      ENDPOINT_APIS,
    ),
    new Option(
      '--model <name>',
      "model name in OpenAI requests (default: the server's first model from GET /v1/models)",
    ),
    new Option('--concurrency <list>', 'closed loop: requests in flight per step, e.g. 1,8,32 (the default)').argParser(
      positiveIntList,
    ),
    new Option('--rate <list>', 'open loop: requests per second per step, e.g. 5,10,20').argParser(positiveNumberList),
    new Option('--arrival <kind>', 'open-loop arrivals (default poisson)').choices(ARRIVALS),
    new Option(
      '--burstiness <k>',
      'with --arrival gamma: gamma shape K, gaps with CV 1/√K (K < 1 burstier than Poisson; default 1)',
    ).argParser(positiveNumber),
    new Option(
      '--schedule <trace.jsonl>',
      'replay a trace: JSONL of {timestamp (ms), input_length, output_length[, hash_ids]} or {timestamp, prompt|messages, max_tokens}',
    ),
    new Option(
      '--time-scale <f>',
      "with --schedule: multiply the trace's gaps by F (0.5 replays twice as fast; default 1)",
    ).argParser(positiveNumber),
    new Option('--users <n>', 'Locust-style ramp: this many closed-loop users…').argParser(positiveInt),
    new Option('--spawn-rate <r>', '…started at this many per second (default: all at once)').argParser(positiveNumber),
    new Option('--requests <n>', 'send this many requests per step instead of a --duration')
      .argParser(positiveInt)
      .conflicts('duration'),
    new Option('--max-tokens <n>', 'output tokens per request (default 128)').argParser(positiveInt),
    new Option(
      '--dataset <file>',
      'prompts from JSONL ({"prompt"}, {"messages"}, ShareGPT {"conversations"}) instead of synthetic ones',
    ),
    new Option(
      '--multi-turn',
      'play the --dataset conversations turn by turn: each turn after the previous answer, with the history resent; per-turn TTFT',
    ),
    new Option(
      '--prefix-tokens <n>',
      'synthetic prompts start with a shared prefix of N tokens (a prefix-cache workload)',
    ).argParser(positiveInt),
    new Option(
      '--prefix-count <m>',
      'with --prefix-tokens: M distinct shared prefixes, prompt i uses prefix i mod M (default 1)',
    ).argParser(positiveInt),
    new Option(
      '--tokenizer <path>',
      'tokenizer.json or model directory: synthetic prompts get exact token counts (default: ~4 characters per token)',
    ),
    new Option(
      '--slo <spec>',
      'per-request SLOs, e.g. ttft=500ms,itl=100ms,tps=11,latency=30s: goodput, capacity, exit 3 when no step meets them',
    ),
    new Option(
      '--find-max',
      'bisect between --concurrency LOW,HIGH (or --rate LOW,HIGH) to the highest load meeting --slo; that load is the capacity',
    ),
    new Option(
      '--find-max-tolerance <pct>',
      'with --find-max: stop when the bracket is this narrow relative to its top (default 2%)',
    ).argParser(percentage),
    new Option(
      '--scrape <url>',
      "sample a server's /metrics or a Prometheus …/api/v1/query?query=… URL during each step (queue, batch, KV cache, GPU power → tokens/J); repeatable",
    ).argParser(collect),
    new Option('--scrape-interval <time>', 'with --scrape: sampling period (default 1s)').argParser(duration),
    new Option(
      '--repeat <n>',
      "make the whole run N times: each metric's mean and 95% interval per load level (results of the first)",
    ).argParser(positiveInt),
    new Option(
      '--slo-attainment <fraction>',
      "share of a step's requests that must meet every SLO (default 0.9)",
    ).argParser(probability),
    new Option(
      '--header <name:value>',
      'request header, repeatable (LLMOPS_API_KEY sets Authorization: Bearer)',
    ).argParser(collect),
    new Option(
      '--timeout <time>',
      'a request not finished after this long counts as a timeout (default 120s)',
    ).argParser(duration),
    new Option('--temperature <t>', "sampling temperature sent with each request (default: the server's)").argParser(
      nonNegativeNumber,
    ),
    new Option('--seed <n>', 'seed of synthetic prompts and Poisson or gamma arrivals (default 1)').argParser(
      nonNegativeInt,
    ),
    new Option('--max-connections <n>', 'most connections an open-loop step opens (default 10000)').argParser(
      positiveInt,
    ),
    new Option('--report <file.html>', 'write a self-contained HTML report with charts'),
    new Option(
      '--self-test',
      'measure this client against a loopback server of known TTFT/ITL at --concurrency (default 400): its error and send lag; exit 3 above 5%',
    ),
    new Option(
      '--workers <n>',
      'distributed run: this process is one of N workers and offers 1/N of each load level',
    ).argParser(positiveInt),
    new Option('--worker-index <i>', 'which worker this is (default: JOB_COMPLETION_INDEX, else 0)').argParser(
      nonNegativeInt,
    ),
    new Option(
      '--emit-k8s-job',
      'print a Kubernetes Indexed Job that runs --workers N workers of this bench, instead of running it',
    ),
    new Option('--image <image>', 'with --emit-k8s-job: a pinned image whose entrypoint is llmops'),
    new Option('--namespace <ns>', "with --emit-k8s-job: the Job's namespace"),
    new Option('--name <name>', "with --emit-k8s-job: the Job's name (default llmops-bench)"),
    new Option(
      '--api-key-secret <name:key>',
      'with --emit-k8s-job: Secret key that holds the API key (as LLMOPS_API_KEY)',
    ),
  ];
}
