import { Option } from 'commander';
import { duration, percentage } from '../flag-parsers.js';

/**
 * The flags both sides of `llmops bench` take. `--warmup` and `--prompt-tokens` mean different things to a model and
 * to an endpoint, so commander hands them over as strings and command.ts converts them once the target is known.
 */
export interface CommonBenchFlags {
  /** Milliseconds. */
  duration?: number;
  warmup?: string;
  promptTokens?: string;
  out?: string;
  csv?: string;
  force?: boolean;
  baseline?: string;
  maxRegression?: number;
}

export function commonBenchFlags(): Option[] {
  return [
    new Option(
      '--duration <time>',
      'measure each configuration / load step this long, e.g. 30s (endpoint default 30s)',
    ).argParser(duration),
    new Option(
      '--warmup <n|time>',
      'model: warm-up iterations (default 1 LLM, 10 generic); endpoint: warm-up time per step (default 5s)',
    ),
    new Option(
      '--prompt-tokens <list>',
      'model: prompt lengths, e.g. 128,512 (default 128); endpoint: MEAN[,STDDEV] of synthetic prompts (default 128)',
    ),
    new Option('--out <file>', 'write the results JSON here'),
    new Option(
      '--csv <file>',
      'model: one CSV row per configuration; endpoint: PREFIX for Locust-style PREFIX_stats.csv and PREFIX_requests.csv',
    ),
    new Option('--force', 'replace existing output files'),
    new Option('--baseline <file>', 'results file to compare with: exit 3 when a metric regressed beyond noise'),
    new Option(
      '--max-regression <pct>',
      'tolerated regression against --baseline (default 5%, config bench.maxRegression)',
    ).argParser(percentage),
  ];
}
