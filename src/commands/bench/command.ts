import { Command, type Option } from 'commander';
import { usageError } from '../../errors.js';
import { action } from '../context.js';
import { duration, nonNegativeInt, positiveInt, positiveIntList } from '../flag-parsers.js';
import { commonBenchFlags, type CommonBenchFlags } from './common-flags.js';
import { endpointBenchFlags, type EndpointBenchFlags } from './endpoint-flags.js';
import { engineBenchFlags, type EngineBenchFlags } from './engine-flags.js';

/** Flags as commander hands them over: the shared ones whose meaning depends on the target are still strings. */
type BenchFlags = CommonBenchFlags &
  Omit<EngineBenchFlags, keyof CommonBenchFlags> &
  Omit<EndpointBenchFlags, keyof CommonBenchFlags | 'warmupMs' | 'slo'> & {
    slo?: string;
    selfTest?: boolean;
  };

/** What --self-test takes besides itself: the load, its timing and where to save. */
const SELF_TEST_FLAGS = new Set(['selfTest', 'concurrency', 'duration', 'warmup', 'out', 'force']);

/** `llmops bench TARGET`: a model is benchmarked on this machine, a URL is load-tested; `bench merge` combines workers. */
export function benchCommand(): Command {
  const engineFlags = engineBenchFlags();
  const endpointFlags = endpointBenchFlags();
  // Each side's flags are refused with the other side's target, not silently ignored.
  const engineOnly = engineFlags.map((option) => option.attributeName());
  const endpointOnly = endpointFlags.map((option) => option.attributeName());
  const command = new Command('bench')
    .description(
      'benchmark a model on this machine (TTFT, TPOT, tokens/s, memory, cost) or load-test a streaming endpoint (TTFT, ITL, QPS, saturation)',
    )
    .argument(
      '[target]',
      'model directory, compile artifact, .onnx file or TensorRT .plan (default: the embedded tiny model), or an http(s):// endpoint',
    );
  addOptions(command, commonBenchFlags());
  command.optionsGroup('Model benchmark:');
  addOptions(command, engineFlags);
  command.optionsGroup('Endpoint load test:');
  addOptions(command, endpointFlags);
  command
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
          rejectFlags(flags, engineOnly, { target: 'an endpoint URL', belongsTo: 'a model' });
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
        rejectFlags(flags, endpointOnly, { target: 'a model', belongsTo: 'an endpoint URL' });
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

function addOptions(command: Command, options: Option[]): void {
  for (const option of options) command.addOption(option);
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
