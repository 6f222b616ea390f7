/**
 * Worker-thread entry of the LLM engine benchmark. The measured loop runs here, in an isolate whose heap holds only
 * the engine, because ONNX Runtime's output tensors are external buffers that make V8 collect garbage every few
 * decode steps ("external memory pressure"), and a full collection marks the whole heap: in the CLI's main isolate
 * (commander, zod, the config schema: ~11 MB) that cost 1.5–2 ms per token on an 86M model, ~6–10% of decode speed.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isLlmopsError } from '../../errors.js';
import { CausalLM } from '../../engine/index.js';
import { benchCausalLM } from './run.js';
import type { KvCachePath } from '../../engine/kv-buffers.js';
import type { EngineBenchOptions, EngineBenchProgress, LlmConfigResult, PromptInputs } from './types.js';

/** What the main thread sends: the options that are data (no signal, no callbacks) and the model directory. */
export interface LlmWorkerInput {
  dir: string;
  /** The target as the user gave it, for progress messages. */
  shown: string;
  options: Omit<EngineBenchOptions, 'signal' | 'onProgress'>;
}

export type LlmWorkerMessage =
  | { type: 'progress'; event: EngineBenchProgress }
  | {
      type: 'done';
      loadMs: number;
      results: LlmConfigResult[];
      inputs: PromptInputs;
      kvCache: KvCachePath;
      kvCacheFallback: string | null;
      presentsPerStep: number;
      logitsPositions: 'last' | 'every';
      threads: number;
    }
  | {
      type: 'error';
      error: {
        message: string;
        code?: string;
        exitCode?: number;
        hint?: string;
        details?: Record<string, unknown>;
        stack?: string;
      };
    };

const port = parentPort!;
const { dir, shown, options } = workerData as LlmWorkerInput;
const abort = new AbortController();
port.on('message', (message: { type: string }) => {
  if (message.type === 'abort') abort.abort();
});

const post = (message: LlmWorkerMessage) => port.postMessage(message);
try {
  const lm = await CausalLM.load({
    dir,
    provider: options.provider ?? 'cpu',
    ...(options.dtype ? { dtype: options.dtype } : {}),
    ...(options.threads ? { threads: options.threads } : {}),
    ...(options.spinWait === undefined ? {} : { spinWait: options.spinWait }),
    ...(options.kvCache ? { kvCache: options.kvCache } : {}),
  });
  try {
    post({
      type: 'progress',
      event: { phase: 'load', message: `loaded ${shown} (${lm.provider}) in ${Math.round(lm.loadMs)} ms` },
    });
    const { results, inputs } = await benchCausalLM(lm, {
      ...options,
      signal: abort.signal,
      onProgress: (event) => post({ type: 'progress', event }),
    });
    post({
      type: 'done',
      loadMs: lm.loadMs,
      results,
      inputs,
      kvCache: lm.kvCache,
      kvCacheFallback: lm.kvCacheFallback,
      presentsPerStep: lm.presentsPerStep,
      logitsPositions: lm.logitsPositions,
      threads: lm.threads,
    });
  } finally {
    await lm.dispose();
  }
} catch (error) {
  post({
    type: 'error',
    error: isLlmopsError(error)
      ? {
          message: error.message,
          code: error.code,
          exitCode: error.exitCode,
          ...(error.hint ? { hint: error.hint } : {}),
          ...(error.details ? { details: error.details } : {}),
        }
      : {
          message: (error as Error).message ?? String(error),
          ...((error as Error).stack ? { stack: (error as Error).stack } : {}),
        },
  });
}
