import type { CausalLM, Sequence, SequenceRequest, StepStats } from './engine/index.js';

/**
 * Continuous batching over the engine: requests join the running batch between decode steps. When the batch is idle,
 * the first request waits up to `maxQueueWaitMs` for company, so a burst is prefilled together (adaptive batching).
 * A step prefills at most `prefillChunkTokens` prompt tokens, so a long prompt is prefilled in chunks between the
 * running streams' decode steps instead of stalling them (0: whole prompts); while streams decode, its chunks also
 * shrink so that each takes about `prefillTimeRatio` of a step's decode time (0: fixed chunks), and where even the smallest
 * takes longer, the prompt is fed one token per step within the decode run instead. Shorter prompts join
 * whole, together.
 */
export class Scheduler {
  private readonly batch;
  private running = false;
  private firstWaitingSince = 0;

  constructor(
    lm: CausalLM,
    private readonly options: {
      maxBatchSize: number;
      maxQueueWaitMs: number;
      maxQueue: number;
      prefillChunkTokens: number;
      prefillTimeRatio: number;
    },
    onStep?: (stats: StepStats) => void,
  ) {
    this.batch = lm.createBatch({
      maxBatchSize: options.maxBatchSize,
      ...(options.prefillChunkTokens > 0 ? { prefillChunkTokens: options.prefillChunkTokens } : {}),
      ...(options.prefillTimeRatio > 0 ? { prefillTimeRatio: options.prefillTimeRatio } : {}),
      ...(onStep ? { onStep } : {}),
    });
  }

  get active(): number {
    return this.batch.activeCount;
  }

  get waiting(): number {
    return this.batch.pendingCount;
  }

  /** Requests inside the scheduler: the queue-depth signal deploy autoscales on. */
  get depth(): number {
    return this.batch.activeCount + this.batch.pendingCount;
  }

  get full(): boolean {
    return this.batch.pendingCount >= this.options.maxQueue;
  }

  submit(request: SequenceRequest): Sequence {
    const sequence = this.batch.add(request);
    if (this.batch.pendingCount === 1 && this.batch.activeCount === 0) this.firstWaitingSince = performance.now();
    if (!this.running) void this.loop();
    return sequence;
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      while (this.depth > 0) {
        if (this.batch.activeCount === 0 && this.batch.pendingCount < this.options.maxBatchSize) {
          const waited = performance.now() - this.firstWaitingSince;
          if (waited < this.options.maxQueueWaitMs) await sleep(this.options.maxQueueWaitMs - waited);
        }
        await this.batch.step();
        // Let the event loop flush streamed chunks and accept new requests between steps.
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      this.running = false;
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
