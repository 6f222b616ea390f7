import { Option } from 'commander';
import type { EngineBenchOptions } from '../../bench/engine/types.js';
import { PROMPT_INPUTS } from '../../bench/engine/types.js';
import { KV_CACHE_PATHS } from '../../engine/kv-buffers.js';
import { EXECUTION_PROVIDERS } from '../../engine/session.js';
import { collect, nonNegativeNumber, positiveInt, positiveIntList } from '../flag-parsers.js';
import type { CommonBenchFlags } from './common-flags.js';

/**
 * The model-bench flags as the engine action receives them: `EngineBenchOptions`' own keys where a flag maps onto one,
 * the CLI's names where it does not (`--duration` → durationMs, `--shape` → shapes, `--gpu-price` → gpuPricePerHour).
 */
export type EngineBenchFlags = Pick<
  EngineBenchOptions,
  | 'provider'
  | 'threads'
  | 'batch'
  | 'promptTokens'
  | 'genTokens'
  | 'iterations'
  | 'warmup'
  | 'inputs'
  | 'dtype'
  | 'kvCache'
  | 'prefillChunkTokens'
  | 'tensorrtImage'
> &
  Omit<CommonBenchFlags, 'warmup' | 'promptTokens'> & {
    /** `name=dim` or `input=AxBxC`, parsed by the library's parseShapes. */
    shape?: string[];
    gpuPrice?: number;
  };

/** Flags only a model bench understands (command.ts refuses them with an endpoint URL). */
export function engineBenchFlags(): Option[] {
  return [
    new Option('--provider <name>', 'ONNX Runtime execution provider (default: config engine.provider, cpu)').choices(
      EXECUTION_PROVIDERS,
    ),
    new Option(
      '--threads <n>',
      'ONNX Runtime intra-op threads (default: physical cores within the CPU quota)',
    ).argParser(positiveInt),
    new Option('--batch <list>', 'batch sizes, comma-separated (default 1)').argParser(positiveIntList),
    new Option('--gen-tokens <n>', 'tokens generated per sequence (default 128)').argParser(positiveInt),
    new Option('--iterations <n>', 'measured iterations per configuration (default 10 LLM, 100 generic)')
      .argParser(positiveInt)
      .conflicts('duration'),
    new Option(
      '--shape <name=dim>',
      'symbolic dimension (batch=8) or input shape (x=1x3x224x224); repeatable',
    ).argParser(collect),
    new Option('--inputs <kind>', 'prompt token ids from the tokenizer on a fixed text, or synthetic').choices(
      PROMPT_INPUTS,
    ),
    new Option('--dtype <dtype>', 'ONNX variant in transformers.js layout, e.g. fp16, q8'),
    new Option(
      '--kv-cache <path>',
      'LLM decode steps: one KV buffer written in place (in-place: the default on the CPU for GroupQueryAttention exports with new_key_values outputs and for Optimum-style Concat exports), a new present tensor per step (naive: the default otherwise) or pre-allocated output buffers',
    ).choices(KV_CACHE_PATHS),
    new Option(
      '--prefill-chunk-tokens <n>',
      'LLM prefill in steps of at most this many tokens per row, as a server chunks it (default: whole prompts)',
    ).argParser(positiveInt),
    new Option(
      '--gpu-price <usd>',
      'GPU price in USD per hour, for $ per million tokens (config bench.gpuPricePerHour)',
    ).argParser(nonNegativeNumber),
    new Option('--tensorrt-image <image>', 'TensorRT container for .plan engines'),
  ];
}
