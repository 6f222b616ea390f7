/** Server settings from the environment, validated at start-up: a bad value stops the server with one line. */
export interface Settings {
  port: number;
  host: string;
  modelDir: string;
  /** The id clients send as `model` (and /v1/models lists). */
  modelName: string;
  apiKeys: string[];
  /** Requests per window per key, with a burst capacity; null when rate limiting is off. */
  rateLimit: { requests: number; windowMs: number; burst: number } | null;
  maxBatchSize: number;
  /** How long an idle batch waits for more requests before prefilling (adaptive batching). */
  maxQueueWaitMs: number;
  /** Most prompt tokens prefilled per scheduling step: longer prompts are prefilled in chunks between decode steps (0: whole prompts). */
  prefillChunkTokens: number;
  /**
   * While streams decode, a step's prefill aims at this fraction of its decode time, resizing chunks, or feeding the
   * prompt one token per decode step where even the smallest chunk overshoots it by more (0: fixed chunks).
   */
  prefillTimeRatio: number;
  /**
   * Positions per sequence whose KV memory is reserved (and touched) at start-up for a full batch, so that no step
   * waits for fresh memory as the batch's cache grows (0: allocate as it grows).
   */
  kvReservePositions: number;
  /** Requests waiting for a batch slot beyond which the server answers 503. */
  maxQueue: number;
  shutdownTimeoutMs: number;
  maxBodyBytes: number;
  promptCacheSize: number;
  provider: 'cpu' | 'cuda' | 'tensorrt';
  threads: number | undefined;
  /**
   * ONNX Runtime's threads spin between parallel sections instead of sleeping. Off by default here: spinning threads
   * hold the cores the server's own HTTP and SSE work (and anything beside it) needs between steps, and on 2 cores
   * the streams' inter-token p99 went from 1.8-2.1x their p50 to 2.6-3.2x with it on.
   */
  spinWait: boolean;
}

const WINDOWS: Record<string, number> = { second: 1000, minute: 60_000, hour: 3_600_000 };

export function loadSettings(env: NodeJS.ProcessEnv, readFile: (path: string) => string): Settings {
  const int = (name: string, fallback: number, min = 0): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer >= ${min}, got "${raw}"`);
    return value;
  };
  const ratio = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number >= 0, got "${raw}"`);
    return value;
  };
  const flag = (name: string, fallback: boolean): boolean => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (raw !== '0' && raw !== '1') throw new Error(`${name} must be 0 or 1, got "${raw}"`);
    return raw === '1';
  };
  const keys = [
    ...(env.API_KEYS ?? '').split(','),
    ...(env.API_KEYS_FILE ? readFile(env.API_KEYS_FILE).split(/\r?\n/) : []),
  ]
    .map((key) => key.trim())
    .filter((key) => key && !key.startsWith('#'));

  let rateLimit: Settings['rateLimit'] = null;
  if (env.RATE_LIMIT && env.RATE_LIMIT !== 'off') {
    const match = /^(\d+)\/(second|minute|hour)$/.exec(env.RATE_LIMIT.trim());
    if (!match) throw new Error(`RATE_LIMIT must look like 60/minute, got "${env.RATE_LIMIT}"`);
    const requests = Number(match[1]);
    rateLimit = { requests, windowMs: WINDOWS[match[2]!]!, burst: int('RATE_LIMIT_BURST', requests, 1) };
  }
  const provider = env.PROVIDER ?? 'cpu';
  if (provider !== 'cpu' && provider !== 'cuda' && provider !== 'tensorrt')
    throw new Error(`PROVIDER must be cpu, cuda or tensorrt, got "${provider}"`);
  const modelDir = env.MODEL_DIR ?? 'model';
  return {
    port: int('PORT', 8000),
    host: env.HOST ?? '0.0.0.0',
    modelDir,
    modelName: env.MODEL_NAME ?? '{{ name }}',
    apiKeys: keys,
    rateLimit,
    maxBatchSize: int('MAX_BATCH_SIZE', 16, 1),
    maxQueueWaitMs: int('MAX_QUEUE_WAIT_MS', 5),
    prefillChunkTokens: int('PREFILL_CHUNK_TOKENS', 128),
    prefillTimeRatio: ratio('PREFILL_TIME_RATIO', 0.5),
    kvReservePositions: int('KV_RESERVE_POSITIONS', 1024),
    maxQueue: int('MAX_QUEUE', 1024, 1),
    shutdownTimeoutMs: int('SHUTDOWN_TIMEOUT', 30, 0) * 1000,
    maxBodyBytes: int('MAX_BODY_BYTES', 1_048_576, 1024),
    promptCacheSize: int('PROMPT_CACHE_SIZE', 0),
    provider,
    threads: env.ORT_THREADS ? int('ORT_THREADS', 0, 1) : undefined,
    spinWait: flag('ORT_SPIN_WAIT', false),
  };
}
