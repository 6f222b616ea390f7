import type { ExecutionProvider } from '../../engine/session.js';
import type { KvCachePath } from '../../engine/kv-buffers.js';
import type { LatencyStatistic, Summary } from '../stats.js';

export type EngineProvider = ExecutionProvider;

/** Where an LLM bench's prompt token ids come from: the model's tokenizer on a fixed text, or synthetic ids. */
export const PROMPT_INPUTS = ['text', 'synthetic'] as const;
export type PromptInputs = (typeof PROMPT_INPUTS)[number];

/** Progress events for a CLI spinner; the library itself never prints. */
export type EngineBenchProgress =
  | { phase: 'load'; message: string }
  | { phase: 'warmup' | 'measure'; config: string; done: number; total: number | null }
  | { phase: 'config-done'; config: string };

/** Options of `benchEngine`; the CLI flags map onto these one to one. */
export interface EngineBenchOptions {
  /**
   * A model directory (Optimum or transformers.js layout), an artifact of `llmops compile` (its llmops.json tells
   * what it holds), a `.onnx` file, or a TensorRT `.plan`. @default the embedded tiny model
   */
  target?: string;
  /** @default 'cpu' */
  provider?: EngineProvider;
  /** Intra-op threads for ONNX Runtime. @default one per physical core within the CPU quota */
  threads?: number;
  /** ONNX Runtime's threads spin between parallel sections (engine.spinWait). @default true */
  spinWait?: boolean;
  /** Batch sizes to measure (LLM mode; in generic mode they fill a leading symbolic dimension). @default [1] */
  batch?: number[];
  /** Prompt lengths in tokens (LLM mode). @default [128] */
  promptTokens?: number[];
  /** Tokens generated per sequence, the first one included (LLM mode). @default 128 */
  genTokens?: number;
  /** Measured iterations per configuration (a generation in LLM mode, one inference otherwise). @default 10 (LLM), 100 (generic) */
  iterations?: number;
  /** Measure each configuration for this long instead of a fixed number of iterations (milliseconds). */
  durationMs?: number;
  /** Iterations run first and excluded from the statistics (reported separately). @default 1 (LLM), 10 (generic) */
  warmup?: number;
  /** Values for symbolic dimensions (`batch` → 8) or whole input shapes (`pixel_values` → [1,3,224,224]). */
  shapes?: Record<string, number | number[]>;
  /** Token ids: the model's tokenizer on a fixed text, or synthetic ids. @default 'text' when a tokenizer is there */
  inputs?: PromptInputs;
  /** GPU (or instance) price in USD per hour, for $ per million output tokens. */
  gpuPricePerHour?: number;
  /** ONNX dtype variant in transformers.js layout (`fp16` → onnx/model_fp16.onnx). */
  dtype?: string;
  /** KV cache of decode steps (LLM mode): see KvCachePath. @default 'in-place' where the model can take it, else 'naive' */
  kvCache?: KvCachePath;
  /**
   * LLM mode: prefill prompts in steps of at most this many tokens per row, as a server's chunked prefill does
   * (`PREFILL_CHUNK_TOKENS`), to see what chunking costs. @default whole prompts, one step
   */
  prefillChunkTokens?: number;
  /** TensorRT container for `.plan` engines. @default DEFAULT_TENSORRT_IMAGE */
  tensorrtImage?: string;
  signal?: AbortSignal;
  onProgress?: (event: EngineBenchProgress) => void;
}

/** Percentiles printed for every latency. */
export type LatencySummary = Pick<Summary, LatencyStatistic>;

/** What the gate needs to tell a regression from noise: sample count, spread and the full histogram. */
export interface SampleStats {
  count: number;
  min: number;
  stddev: number;
  /** HdrHistogram compressed base64 (µs), mergeable and re-summarizable. */
  histogram: string;
}

export interface WarmupReport {
  iterations: number;
  /** Mean time of a warm-up iteration: how much slower the cold start was. */
  meanMs: number;
}

export interface LlmConfigResult {
  batch: number;
  promptTokens: number;
  genTokens: number;
  iterations: number;
  /** Prefill of the whole batch plus selection of the first token. */
  ttftMs: LatencySummary;
  /** One decode step of the whole batch plus token selection. */
  tpotMs: LatencySummary;
  /** Whole generation: prefill and every decode step. */
  e2eMs: LatencySummary;
  /** Model runs of the prefill: one per chunk (`prefillChunkTokens`), one for a whole prompt. */
  prefillSteps: number;
  /** One prefill step (a chunk of every row, or the whole prompt); the decode steps are `tpotMs`. */
  prefillStepMs: LatencySummary;
  /** Decode tokens per second of one sequence: 1000 / mean TPOT. */
  decodeTokensPerSecond: number;
  /** Output tokens of the whole batch per second of generation wall time (prefill included). */
  throughputTokensPerSecond: number;
  /** Peak resident set size of the process while this configuration ran (sampled). */
  peakRssMb: number;
  /** GPU memory this process held at its peak (nvidia-smi), GPU providers only. */
  peakGpuMemoryMb?: number;
  costPerMillionTokens: number | null;
  warmup: WarmupReport;
  stats: { ttftMs: SampleStats; tpotMs: SampleStats; e2eMs: SampleStats };
  /** Metrics whose relative spread (stddev / mean) is wide enough to distrust small differences. */
  noisy: string[];
}

export interface GenericConfigResult {
  /** Leading dimension of the first input, for items per second. */
  batch: number;
  /** Input shapes as run, e.g. `{ "x": [8, 16] }`. */
  shapes: Record<string, number[]>;
  iterations: number;
  latencyMs: LatencySummary;
  /** Items per second: batch × completed inferences ÷ wall time. */
  throughputPerSecond: number;
  peakRssMb: number | null;
  peakGpuMemoryMb?: number;
  warmup: WarmupReport;
  stats: { latencyMs: SampleStats };
  noisy: string[];
}

export interface HardwareInfo {
  cpu: string;
  cores: number;
  memoryGb: number;
  os: string;
  node: string;
  onnxruntime?: string;
  gpu?: string;
  tensorrt?: string;
}

interface EngineBenchResultBase {
  schemaVersion: 1;
  kind: 'engine';
  /** The target as given (or `embedded:tiny`). */
  model: string;
  provider: EngineProvider;
  /** Cold model load: session creation (LLM and generic), engine deserialization for `.plan` when trtexec reports it. */
  loadMs: number | null;
  hardware: HardwareInfo;
  /** ONNX Runtime's intra-op threads as run (given, or the default: one per physical core within the CPU quota); null for a TensorRT plan. */
  threads: number | null;
  /** Whether ONNX Runtime's threads spun between parallel sections (engine.spinWait). */
  spinWait: boolean;
  gpuPricePerHour: number | null;
  /** ISO time the run started. */
  startedAt: string;
}

export interface LlmBenchResult extends EngineBenchResultBase {
  mode: 'llm';
  inputs: PromptInputs;
  /** The KV cache path the decode steps took (after any fallback). */
  kvCache: KvCachePath;
  /** Why the pre-allocated path was not taken although asked for; null otherwise. */
  kvCacheFallback: string | null;
  /** Presents (whole-cache copies of a layer's keys or values) ONNX Runtime builds per decode step; 0: none. */
  presentsPerStep: number;
  /** Whose logits a run computes: the last position of each row only, or every position (see CausalLM.logitsPositions). */
  logitsPositions: 'last' | 'every';
  /** Prompt tokens per row per prefill step; null: whole prompts in one step. */
  prefillChunkTokens: number | null;
  results: LlmConfigResult[];
}

export interface GenericBenchResult extends EngineBenchResultBase {
  mode: 'generic' | 'tensorrt';
  results: GenericConfigResult[];
}

export type EngineBenchResult = LlmBenchResult | GenericBenchResult;
