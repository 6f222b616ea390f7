import { usageError } from '../../errors.js';
import { argmax } from '../../engine/sampling.js';
import { costPerMillionTokens } from '../cost.js';
import { Recorder } from '../stats.js';
import { mean } from './generic.js';
import { describe, round, RssSampler, runIterations } from './measure.js';
import type { EngineBenchOptions, LlmConfigResult } from './types.js';

/** The part of the engine's CausalLM the benchmark drives: batched prefill (whole or by chunks) and one decode step. */
export interface BenchableLM<State extends { lastLogits: Float32Array[] } = { lastLogits: Float32Array[] }> {
  prefill(rows: number[][]): Promise<State>;
  /** Continues every row's prefill by one chunk (all of one length); needed with `prefillChunkTokens`. */
  prefillChunks?(state: State | null, chunks: number[][]): Promise<State>;
  decode(state: State, nextTokenIds: number[]): Promise<void>;
  /** Frees a finished state's device memory (a KV cache a GPU provider keeps between steps). */
  releaseState?(state: State): void;
}

export interface LlmBenchPlan {
  batches: number[];
  promptTokens: number[];
  genTokens: number;
  /** Prefill prompts in steps of at most this many tokens per row (as a server's chunked prefill does); null: whole. */
  prefillChunkTokens?: number | null;
  warmup: number;
  iterations?: number;
  durationMs?: number;
  /** Prompt token ids of the requested length (from the tokenizer or synthetic), per prompt length. */
  promptIds: (length: number) => number[];
  gpuPricePerHour?: number | null;
  /** Samples GPU memory of this process while a configuration runs (GPU providers only). */
  gpuMemory?: () => { start(): void; stop(): Promise<number | null> };
}

/**
 * Measures generation phase by phase for each batch × prompt length: TTFT is the batched prefill plus picking the
 * first token (greedy), TPOT is one batched decode step plus picking the next tokens. Only engine calls and token
 * selection are inside the timers, so the figures stay within a few percent of the runtime underneath.
 */
export async function benchLlm(
  lm: BenchableLM,
  plan: LlmBenchPlan,
  hooks: Pick<EngineBenchOptions, 'signal' | 'onProgress'> = {},
): Promise<LlmConfigResult[]> {
  if (plan.genTokens < 1) throw usageError(`--gen-tokens must be at least 1, got ${plan.genTokens}`, 'INVALID_INPUT');
  const chunk = plan.prefillChunkTokens ?? null;
  if (chunk !== null && !lm.prefillChunks) throw new Error('this model cannot prefill in chunks');
  const results: LlmConfigResult[] = [];
  for (const promptTokens of plan.promptTokens) {
    const prompt = plan.promptIds(promptTokens);
    for (const batch of plan.batches) {
      const label = `batch ${batch} × prompt ${promptTokens} → ${plan.genTokens} tokens`;
      // Each row starts at a different offset of the prompt so that rows are not identical, with equal lengths.
      const rows = Array.from({ length: batch }, (_, row) => rotate(prompt, row));
      const ttft = new Recorder();
      const tpot = new Recorder();
      const e2e = new Recorder();
      const prefillStep = new Recorder();
      let prefillSteps = 0;
      const warmupTimes: number[] = [];
      const rss = new RssSampler().start({ timer: false });
      const gpu = plan.gpuMemory?.();
      gpu?.start();

      const { iterations } = await runIterations(
        plan,
        async (measured) => {
          const start = performance.now();
          let state: { lastLogits: Float32Array[] } | null = null;
          let steps = 0;
          for (let done = 0; done < promptTokens; steps += 1) {
            const stepStart = performance.now();
            const take = chunk === null ? promptTokens : Math.min(chunk, promptTokens - done);
            const part = rows.map((row) => row.slice(done, done + take));
            state = chunk === null ? await lm.prefill(part) : await lm.prefillChunks!(state, part);
            done += take;
            if (measured) prefillStep.record(performance.now() - stepStart);
          }
          prefillSteps = steps;
          let next = state!.lastLogits.map(argmax);
          const firstToken = performance.now();
          // RSS is read between steps and kept out of every timing (e2e too, so that e2e = TTFT + the TPOTs):
          // session.run blocks the event loop, so a timer could only ever fire there, inside a step's time.
          let unmeasured = 0;
          /** Samples RSS after a timed interval that ended at `end`; returns when the next one starts. */
          const sampleRss = (end: number) => {
            rss.sample();
            const after = performance.now();
            unmeasured += after - end;
            return after;
          };
          let previous = sampleRss(firstToken);
          for (let step = 1; step < plan.genTokens; step += 1) {
            await lm.decode(state!, next);
            next = state!.lastLogits.map(argmax);
            const now = performance.now();
            if (measured) tpot.record(now - previous);
            previous = sampleRss(now);
          }
          lm.releaseState?.(state!);
          const elapsed = previous - start - unmeasured;
          if (measured) {
            ttft.record(firstToken - start);
            e2e.record(elapsed);
          } else {
            warmupTimes.push(elapsed);
          }
        },
        {
          signal: hooks.signal,
          onIteration: (phase, done, total) => hooks.onProgress?.({ phase, config: label, done, total }),
        },
      );
      const peakRssMb = rss.stop();
      const peakGpuMemoryMb = gpu ? await gpu.stop() : null;

      const ttftStats = describe(ttft);
      const tpotStats = describe(tpot);
      const e2eStats = describe(e2e);
      const prefillStepStats = describe(prefillStep);
      const decodeTokensPerSecond = tpotStats.latency.mean > 0 ? round(1000 / tpotStats.latency.mean, 2) : 0;
      const throughputTokensPerSecond =
        e2eStats.latency.mean > 0 ? round((batch * plan.genTokens) / (e2eStats.latency.mean / 1000), 2) : 0;
      results.push({
        batch,
        promptTokens,
        genTokens: plan.genTokens,
        iterations,
        ttftMs: ttftStats.latency,
        tpotMs: tpotStats.latency,
        e2eMs: e2eStats.latency,
        prefillSteps,
        prefillStepMs: prefillStepStats.latency,
        decodeTokensPerSecond,
        throughputTokensPerSecond,
        peakRssMb,
        ...(peakGpuMemoryMb !== null ? { peakGpuMemoryMb } : {}),
        costPerMillionTokens: costPerMillionTokens(plan.gpuPricePerHour, throughputTokensPerSecond),
        warmup: { iterations: warmupTimes.length, meanMs: round(mean(warmupTimes)) },
        stats: { ttftMs: ttftStats.stats, tpotMs: tpotStats.stats, e2eMs: e2eStats.stats },
        noisy: [ttftStats.noisy && 'ttftMs', tpotStats.noisy && 'tpotMs', e2eStats.noisy && 'e2eMs'].filter(
          (name): name is string => Boolean(name),
        ),
      });
      hooks.onProgress?.({ phase: 'config-done', config: label });
    }
  }
  return results;
}

function rotate(ids: readonly number[], offset: number): number[] {
  if (ids.length === 0) return [];
  const shift = offset % ids.length;
  return [...ids.slice(shift), ...ids.slice(0, shift)];
}

/** A fixed English text, tokenized and repeated to any prompt length: real token statistics, same work every run. */
export const PROMPT_TEXT =
  'The history of computing is a story of abstraction. Each generation of engineers builds on the tools of the last, ' +
  'hiding detail behind interfaces so that the next problem can be stated more simply. Compilers turned machine code ' +
  'into languages, operating systems turned hardware into processes and files, and networks turned distant machines ' +
  'into addresses. Language models are the newest layer: they turn text into a program that answers in text. ';

/** Prompt ids of exactly `length` tokens: the tokenized text repeated, or ids spread over the vocabulary. */
export function promptIds(
  length: number,
  source: { encode?: (text: string) => number[]; vocabSize: number },
): number[] {
  if (source.encode) {
    const base = source.encode(PROMPT_TEXT);
    if (base.length > 0) return Array.from({ length }, (_, index) => base[index % base.length]!);
  }
  // Synthetic ids: a fixed stride through the vocabulary, skipping the low ids where special tokens usually live.
  const low = Math.min(100, Math.floor(source.vocabSize / 4));
  const span = Math.max(1, source.vocabSize - low);
  return Array.from({ length }, (_, index) => low + ((index * 7919) % span));
}
