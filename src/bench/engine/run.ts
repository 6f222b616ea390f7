import { isLlmopsError, usageError } from '../../errors.js';
import { Worker } from 'node:worker_threads';
import { InterruptedError, LlmopsError, type ExitCode } from '../../errors.js';
import type { CausalLM } from '../../engine/index.js';
import { KV_CACHE_PATHS } from '../../engine/kv-buffers.js';
import { EXECUTION_PROVIDERS, keepOrtTelemetryOff } from '../../engine/session.js';
import type { LlmWorkerInput, LlmWorkerMessage } from './llm-worker.js';
import { benchGenericSession } from './generic.js';
import { resolveInputSpecs } from './inputs.js';
import { describeHardware } from './hardware.js';
import { benchLlm, promptIds } from './llm.js';
import { resolveTarget, type BenchTarget } from './target.js';
import type {
  EngineBenchOptions,
  EngineBenchResult,
  GenericBenchResult,
  LlmBenchResult,
  LlmConfigResult,
  PromptInputs,
} from './types.js';

export type * from './types.js';

const DEFAULTS = { llm: { iterations: 10, warmup: 1 }, generic: { iterations: 100, warmup: 10 } } as const;

/**
 * Benchmarks a model on this machine. Decoders with a KV cache (detected from their I/O signature) get LLM
 * measurements per batch × prompt length; any other ONNX model gets latency and throughput on synthesized inputs;
 * TensorRT engines run under trtexec in the TensorRT container. Never prints; progress goes to `onProgress`.
 */
export async function benchEngine(options: EngineBenchOptions = {}): Promise<EngineBenchResult> {
  validateOptions(options);
  const startedAt = new Date().toISOString();
  const provider = options.provider ?? 'cpu';
  let target: BenchTarget;
  if (options.target === undefined) {
    options.onProgress?.({ phase: 'load', message: 'preparing the embedded model' });
    const { ensureTinyModel } = await import('../../model/tiny.js');
    target = { kind: 'llm', dir: await ensureTinyModel(), shown: 'embedded:tiny' };
  } else {
    target = await resolveTarget(options.target);
  }

  const base = {
    schemaVersion: 1 as const,
    kind: 'engine' as const,
    model: target.shown,
    threads: options.threads ?? null,
    spinWait: options.spinWait ?? true,
    gpuPricePerHour: options.gpuPricePerHour ?? null,
    startedAt,
  };

  if (target.kind === 'plan') {
    const { benchPlan } = await import('./tensorrt.js');
    const outcome = await benchPlan(target, options);
    const result: GenericBenchResult = {
      ...base,
      provider: 'tensorrt',
      mode: 'tensorrt',
      loadMs: outcome.loadMs,
      hardware: await describeHardware({ gpu: true, tensorrt: outcome.tensorrtVersion }),
      results: outcome.results,
    };
    return result;
  }

  const engine = await import('../../engine/index.js');
  engine.assertProviderInstalled(provider);
  if (target.kind === 'llm') {
    let outcome: Extract<LlmWorkerMessage, { type: 'done' }>;
    try {
      outcome = await benchLlmInWorker(target.dir, target.shown, options);
    } catch (error) {
      // A directory with config.json and tokenizer.json may still hold an encoder or classifier: bench it generically.
      if (!(isLlmopsError(error) && (error.code === 'NOT_A_DECODER' || error.code === 'NO_KV_CACHE'))) throw error;
      const files = await engine.locateModelFiles(target.dir, options.dtype ? { dtype: options.dtype } : {});
      return benchOnnxFile(files.onnxPath, target.shown, options, base);
    }
    const result: LlmBenchResult = {
      ...base,
      threads: outcome.threads,
      provider,
      mode: 'llm',
      loadMs: round(outcome.loadMs),
      inputs: outcome.inputs,
      kvCache: outcome.kvCache,
      kvCacheFallback: outcome.kvCacheFallback,
      presentsPerStep: outcome.presentsPerStep,
      logitsPositions: outcome.logitsPositions,
      prefillChunkTokens: options.prefillChunkTokens ?? null,
      hardware: await describeHardware({ gpu: provider !== 'cpu' }),
      results: outcome.results,
    };
    return result;
  }
  return benchOnnxFile(target.file, target.shown, options, base);
}

/**
 * The LLM measurements on an already loaded model: what `benchEngine` runs, exposed so that a benchmark script can
 * compare it with a bare ONNX Runtime loop over the very same session.
 */
export async function benchCausalLM(
  lm: CausalLM,
  options: EngineBenchOptions = {},
): Promise<{ results: LlmConfigResult[]; inputs: PromptInputs }> {
  const promptLengths = options.promptTokens ?? [128];
  const genTokens = options.genTokens ?? 128;
  const longest = Math.max(...promptLengths) + genTokens;
  if (lm.contextLength !== undefined && longest > lm.contextLength) {
    throw usageError(
      `prompt + generated tokens (${longest}) exceed the model's context of ${lm.contextLength} positions`,
      'CONTEXT_TOO_LONG',
      {
        hint: `lower --prompt-tokens or --gen-tokens so that their sum is at most ${lm.contextLength}`,
      },
    );
  }
  const inputs = options.inputs ?? 'text';
  // Without vocab_size in config.json, synthetic ids stay within the first 256 ids every tokenizer has.
  const vocabSize = lm.config.vocab_size ?? 356;
  const cache = new Map<number, number[]>();
  const gpuMemory = lm.provider === 'cpu' ? undefined : (await import('../../proc/nvidia-smi.js')).gpuMemorySampler;
  const results = await benchLlm(
    lm,
    {
      batches: options.batch ?? [1],
      promptTokens: promptLengths,
      genTokens,
      prefillChunkTokens: options.prefillChunkTokens ?? null,
      warmup: options.warmup ?? DEFAULTS.llm.warmup,
      ...loopLength(options, DEFAULTS.llm.iterations),
      gpuPricePerHour: options.gpuPricePerHour ?? null,
      promptIds: (length) => {
        if (!cache.has(length))
          cache.set(
            length,
            promptIds(length, {
              vocabSize,
              ...(inputs === 'text'
                ? { encode: (text: string) => lm.tokenizer.encode(text, { addSpecialTokens: false }) }
                : {}),
            }),
          );
        return cache.get(length)!;
      },
      ...(gpuMemory ? { gpuMemory: () => gpuMemory() } : {}),
    },
    options,
  );
  return { results, inputs };
}

/**
 * Loads and measures the model in a worker thread (see llm-worker.ts for why): progress and the abort signal cross
 * as messages, an LlmopsError comes back with its code and exit code.
 */
async function benchLlmInWorker(
  dir: string,
  shown: string,
  options: EngineBenchOptions,
): Promise<Extract<LlmWorkerMessage, { type: 'done' }>> {
  const { signal, onProgress, ...data } = options;
  const input: LlmWorkerInput = { dir, shown, options: data };
  keepOrtTelemetryOff();
  const worker = new Worker(new URL('./llm-worker.js', import.meta.url), { workerData: input });
  const onAbort = () => worker.postMessage({ type: 'abort' });
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await new Promise((resolve, reject) => {
      worker.on('message', (message: LlmWorkerMessage) => {
        if (message.type === 'progress') onProgress?.(message.event);
        else if (message.type === 'done') resolve(message);
        else {
          const { message: text, code, exitCode, hint, details, stack } = message.error;
          if (code === 'INTERRUPTED')
            return reject(signal?.reason instanceof LlmopsError ? signal.reason : new InterruptedError());
          if (code)
            return reject(
              new LlmopsError(text, code, {
                exitCode: exitCode as ExitCode,
                ...(hint ? { hint } : {}),
                ...(details ? { details } : {}),
              }),
            );
          reject(Object.assign(new Error(text), stack ? { stack } : {}));
        }
      });
      worker.on('error', reject);
      worker.on('exit', (code) => reject(new Error(`the benchmark worker exited (code ${code}) before reporting`)));
    });
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await worker.terminate();
  }
}

async function benchOnnxFile(
  file: string,
  shown: string,
  options: EngineBenchOptions,
  base: Omit<GenericBenchResult, 'provider' | 'mode' | 'loadMs' | 'hardware' | 'results'>,
): Promise<GenericBenchResult> {
  const engine = await import('../../engine/index.js');
  const provider = options.provider ?? 'cpu';
  const ort = await engine.loadOrt();
  const started = performance.now();
  const threads = options.threads ?? engine.defaultThreadCount();
  const session = await engine.createSession(file, {
    provider,
    threads,
    ...(options.spinWait === undefined ? {} : { spinWait: options.spinWait }),
  });
  const loadMs = round(performance.now() - started);
  try {
    // Shapes are checked for every configuration before anything is measured or reported.
    for (const batch of options.batch?.length ? options.batch : [undefined])
      resolveInputSpecs(session.inputMetadata, options.shapes ?? {}, batch, shown);
    options.onProgress?.({ phase: 'load', message: `loaded ${shown} (${provider}) in ${Math.round(loadMs)} ms` });
    const gpuMemory = provider === 'cpu' ? undefined : (await import('../../proc/nvidia-smi.js')).gpuMemorySampler();
    gpuMemory?.start();
    const results = await benchGenericSession(
      ort,
      session,
      {
        batches: options.batch?.length ? options.batch : [undefined],
        shapes: options.shapes ?? {},
        warmup: options.warmup ?? DEFAULTS.generic.warmup,
        ...loopLength(options, DEFAULTS.generic.iterations),
      },
      shown,
      options,
    );
    const gpuPeak = gpuMemory ? await gpuMemory.stop() : null;
    if (gpuPeak !== null) for (const result of results) result.peakGpuMemoryMb = gpuPeak;
    return {
      ...base,
      threads,
      provider,
      mode: 'generic',
      loadMs,
      hardware: await describeHardware({ gpu: provider !== 'cpu' }),
      results,
    };
  } finally {
    await session.release();
  }
}

function loopLength(
  options: EngineBenchOptions,
  defaultIterations: number,
): { iterations?: number; durationMs?: number } {
  if (options.durationMs !== undefined) return { durationMs: options.durationMs };
  return { iterations: options.iterations ?? defaultIterations };
}

/** Library callers get the same checks as the CLI's argument parsers. */
function validateOptions(options: EngineBenchOptions): void {
  const positiveInts: Array<[string, number[] | number | undefined]> = [
    ['--batch', options.batch],
    ['--prompt-tokens', options.promptTokens],
    ['--gen-tokens', options.genTokens],
    ['--iterations', options.iterations],
    ['--threads', options.threads],
    ['--prefill-chunk-tokens', options.prefillChunkTokens],
  ];
  for (const [flag, value] of positiveInts) {
    const values = value === undefined ? [] : Array.isArray(value) ? value : [value];
    if (Array.isArray(value) && value.length === 0)
      throw usageError(`${flag} needs at least one value`, 'INVALID_INPUT');
    for (const item of values)
      if (!Number.isSafeInteger(item) || item <= 0)
        throw usageError(`Expected \`${flag}\` to be a positive integer, got \`${item}\``, 'INVALID_INPUT');
  }
  if (options.warmup !== undefined && (!Number.isSafeInteger(options.warmup) || options.warmup < 0))
    throw usageError(`Expected \`--warmup\` to be a non-negative integer, got \`${options.warmup}\``, 'INVALID_INPUT');
  if (options.durationMs !== undefined && !(options.durationMs > 0))
    throw usageError(`Expected \`--duration\` to be positive, got \`${options.durationMs}\``, 'INVALID_INPUT');
  if (options.iterations !== undefined && options.durationMs !== undefined)
    throw usageError('--iterations and --duration are alternatives: pass one of them', 'INVALID_INPUT');
  if (options.kvCache !== undefined && !KV_CACHE_PATHS.includes(options.kvCache)) {
    throw usageError(
      `Expected \`--kv-cache\` to be one of ${KV_CACHE_PATHS.join(', ')}, got \`${options.kvCache}\``,
      'INVALID_INPUT',
    );
  }
  if (options.provider !== undefined && !EXECUTION_PROVIDERS.includes(options.provider)) {
    throw usageError(`unknown provider \`${options.provider}\``, 'INVALID_PROVIDER', {
      hint: `use one of: ${EXECUTION_PROVIDERS.join(', ')}`,
    });
  }
  if (options.gpuPricePerHour !== undefined && !(options.gpuPricePerHour >= 0))
    throw usageError(
      `Expected \`--gpu-price\` to be a non-negative number, got \`${options.gpuPricePerHour}\``,
      'INVALID_INPUT',
    );
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
