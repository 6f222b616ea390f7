import { Command, Option } from 'commander';
import { action } from '../context.js';
import { collect, duration, nonNegativeInt, nonNegativeNumber, percentage, positiveInt, positiveIntList } from '../options.js';
import type { EngineBenchFlags } from './engine-action.js';

// Engine side of `llmops bench`; the endpoint side (URL targets) dispatches from this same command.
export function benchCommand(): Command {
  return new Command('bench')
    .description('benchmark a model on this machine (TTFT, TPOT, tokens/s, memory, load time, cost) and gate CI on regressions')
    .argument('[target]', 'model directory, compile artifact, .onnx file or TensorRT .plan (default: the embedded tiny model)')
    .addOption(new Option('--provider <name>', 'ONNX Runtime execution provider (default: config engine.provider, cpu)').choices(['cpu', 'cuda', 'tensorrt']))
    .option('--threads <n>', 'ONNX Runtime intra-op threads', positiveInt)
    .option('--batch <list>', 'batch sizes, comma-separated (default 1)', positiveIntList)
    .option('--prompt-tokens <list>', 'prompt lengths in tokens, comma-separated (default 128)', positiveIntList)
    .option('--gen-tokens <n>', 'tokens generated per sequence (default 128)', positiveInt)
    .addOption(new Option('--iterations <n>', 'measured iterations per configuration (default 10 LLM, 100 generic)').argParser(positiveInt).conflicts('duration'))
    .addOption(new Option('--duration <time>', 'measure each configuration this long instead, e.g. 30s').argParser(duration))
    .option('--warmup <n>', 'warm-up iterations excluded from statistics (default 1 LLM, 10 generic)', nonNegativeInt)
    .option('--shape <name=dim>', 'symbolic dimension (batch=8) or input shape (x=1x3x224x224); repeatable', collect)
    .addOption(new Option('--inputs <kind>', 'prompt token ids from the tokenizer on a fixed text, or synthetic').choices(['text', 'synthetic']))
    .option('--dtype <dtype>', 'ONNX variant in transformers.js layout, e.g. fp16, q8')
    .option('--gpu-price <usd>', 'GPU price in USD per hour, for $ per million tokens (config bench.gpuPricePerHour)', nonNegativeNumber)
    .option('--tensorrt-image <image>', 'TensorRT container for .plan engines')
    .option('--baseline <file>', 'results file to compare with: exit 3 when a metric regressed beyond noise')
    .option('--max-regression <pct>', 'tolerated regression against --baseline (default 5%)', percentage)
    .option('--out <file>', 'write the results JSON here')
    .option('--csv <file>', 'write one CSV row per configuration here')
    .option('--force', 'replace existing --out / --csv files')
    .addHelpText(
      'after',
      '\nExamples:\n  $ llmops bench\n  $ llmops bench ./models/tiny --batch 1,4 --prompt-tokens 32,128 --gen-tokens 64 --gpu-price 2.5\n' +
        '  $ llmops bench ./mlp.onnx --shape batch=8 --iterations 200\n  $ llmops bench ./artifact/model.plan --shape input=8x3x224x224\n' +
        '  $ llmops bench ./models/tiny --out current.json --baseline baseline.json --max-regression 5%\n',
    )
    .action(
      action<EngineBenchFlags, [string | undefined]>(async (ctx, options, target) => {
        const { runEngineBench } = await import('./engine-action.js');
        await runEngineBench(ctx, options, target);
      }),
    );
}
