import { performance } from 'node:perf_hooks';
import { usageError } from '../errors.js';
import type { CausalLM } from './causal-lm.js';
import type { DecodeState } from './decode-state.js';
import { createRandom, sampleToken, type SamplingOptions } from './sampling.js';
import { StopStringMatcher } from './stop.js';
import { IncrementalDecoder } from './tokenizer.js';

export interface GenerateOptions extends SamplingOptions {
  /** Maximum new tokens. @default 64 */
  maxTokens?: number;
  /** Stop when any of these strings is generated; the string itself is not returned. */
  stop?: readonly string[];
  signal?: AbortSignal;
}

export interface SequenceRequest extends GenerateOptions {
  promptIds: readonly number[];
  /** Text as it becomes final (never half a character, never part of a stop string). */
  onText?: (delta: string, tokenId: number) => void;
}

export type FinishReason = 'stop' | 'length' | 'cancelled';

export interface Generation {
  text: string;
  /** Generated token ids only (no prompt, no EOS). */
  tokenIds: number[];
  promptTokens: number;
  finishReason: FinishReason;
  /** Request accepted → first token chosen (includes time queued for a batch slot). */
  ttftMs: number;
  /** Output tokens after the first ÷ (last token − first token); 0 with fewer than two tokens. */
  tokensPerSecond: number;
}

/** One sequence in a DecoderBatch. */
export class Sequence {
  readonly done: Promise<Generation>;
  readonly tokenIds: number[] = [];
  finishReason: FinishReason | null = null;
  /** The token to feed at the next decode step. */
  nextInput = -1;
  private cancelled = false;
  private readonly decoder: IncrementalDecoder;
  private readonly stops: StopStringMatcher;
  private readonly random: () => number;
  private readonly acceptedAt = performance.now();
  private firstTokenAt = 0;
  private lastTokenAt = 0;
  private resolve!: (generation: Generation) => void;

  constructor(
    readonly request: SequenceRequest,
    private readonly lm: CausalLM,
  ) {
    this.decoder = new IncrementalDecoder(lm.tokenizer);
    this.stops = new StopStringMatcher(request.stop ?? []);
    this.random = createRandom(request.seed ?? Math.floor(Math.random() * 2 ** 32));
    this.done = new Promise((resolve) => (this.resolve = resolve));
  }

  get isCancelled(): boolean {
    return this.cancelled;
  }

  get finished(): boolean {
    return this.finishReason !== null;
  }

  /** Stops the sequence at the next step (e.g. the client went away); `done` resolves with finishReason `cancelled`. */
  cancel(): void {
    this.cancelled = true;
  }

  /** Chooses the next token from the latest logits, streams its text, and decides whether the sequence is done. */
  accept(logits: Float32Array, totalLength: number): void {
    const token = sampleToken(logits, this.request, this.random);
    const now = performance.now();
    if (this.tokenIds.length === 0) this.firstTokenAt = now;
    this.lastTokenAt = now;
    if (this.lm.eosTokenIds.has(token)) return this.finish('stop');

    this.tokenIds.push(token);
    this.nextInput = token;
    const { emit, stopped } = this.stops.push(this.decoder.push(token));
    if (emit) this.request.onText?.(emit, token);
    if (stopped) return this.finish('stop');
    const maxTokens = this.request.maxTokens ?? 64;
    const contextFull = this.lm.contextLength !== undefined && totalLength + 1 > this.lm.contextLength;
    if (this.tokenIds.length >= maxTokens || contextFull) this.finish('length');
  }

  finish(reason: FinishReason): void {
    if (this.finishReason) return;
    this.finishReason = reason;
    if (reason !== 'stop' || this.stops.final.length === 0) {
      const rest = this.stops.push(this.decoder.flush());
      const tail = rest.stopped ? rest.emit : rest.emit + this.stops.flush();
      if (tail) this.request.onText?.(tail, this.tokenIds[this.tokenIds.length - 1] ?? -1);
    }
    const decodeSeconds = (this.lastTokenAt - this.firstTokenAt) / 1000;
    this.resolve({
      text: this.stops.final,
      tokenIds: [...this.tokenIds],
      promptTokens: this.request.promptIds.length,
      finishReason: reason,
      ttftMs: this.firstTokenAt ? this.firstTokenAt - this.acceptedAt : 0,
      tokensPerSecond: this.tokenIds.length > 1 && decodeSeconds > 0 ? (this.tokenIds.length - 1) / decodeSeconds : 0,
    });
  }
}

export interface DecoderBatchOptions {
  /** @default 16 */
  maxBatchSize?: number;
  /**
   * Most prompt tokens prefilled per step. A prompt longer than this is prefilled in chunks of at most this many
   * tokens, one chunk per step, each after the running sequences' decode step, so one long prompt never stalls the
   * streams already running. Short prompts are still prefilled together while they fit. @default unlimited (whole prompts)
   */
  prefillChunkTokens?: number;
  /** Called after every step with its time split (e.g. for metrics). */
  onStep?: (stats: StepStats) => void;
}

/** What one scheduling step did and how long each part took. */
export interface StepStats {
  /** Rows in the decode run (0: no decode this step). */
  decodeRows: number;
  decodeMs: number;
  /** Prompt tokens prefilled this step (whole prompts and chunks). */
  prefillTokens: number;
  prefillMs: number;
}

/**
 * Continuous batching: sequences join the running batch between decode steps and leave when they finish, so a
 * long generation never blocks a short one. Each step decodes one token for the running sequences, then prefills
 * newcomers — whole, together, or one long prompt in chunks (`prefillChunkTokens`) — within the step's token budget.
 */
export class DecoderBatch {
  private readonly maxBatchSize: number;
  private readonly chunkTokens: number;
  private readonly pending: Sequence[] = [];
  private active: Sequence[] = [];
  private state: DecodeState | null = null;
  /** A long prompt part-way through its chunked prefill: it holds a batch slot and produces no token yet. */
  private partial: { sequence: Sequence; state: DecodeState | null; done: number } | null = null;
  /** The latest step's time split. */
  lastStep: StepStats = { decodeRows: 0, decodeMs: 0, prefillTokens: 0, prefillMs: 0 };

  constructor(
    private readonly lm: CausalLM,
    private readonly options: DecoderBatchOptions = {},
  ) {
    this.maxBatchSize = options.maxBatchSize ?? 16;
    const chunk = options.prefillChunkTokens;
    if (chunk !== undefined && !(Number.isSafeInteger(chunk) && chunk > 0))
      throw usageError(`prefillChunkTokens must be a positive integer, got ${chunk}`, 'INVALID_INPUT');
    this.chunkTokens = chunk ?? Infinity;
  }

  get activeCount(): number {
    return this.active.length;
  }

  /** Sequences without a first token yet: queued, or part-way through a chunked prefill. */
  get pendingCount(): number {
    return this.pending.length + (this.partial ? 1 : 0);
  }

  /** Queues a sequence; it joins at the next step with a free slot. Throws a usage error for prompts the model can't take. */
  add(request: SequenceRequest): Sequence {
    if (request.promptIds.length === 0) throw usageError('the prompt is empty', 'EMPTY_PROMPT');
    const context = this.lm.contextLength;
    if (context !== undefined && request.promptIds.length >= context) {
      throw usageError(
        `the prompt has ${request.promptIds.length} tokens; the model's context is ${context}`,
        'PROMPT_TOO_LONG',
      );
    }
    const sequence = new Sequence(request, this.lm);
    this.pending.push(sequence);
    return sequence;
  }

  /** One scheduling step: drop cancelled sequences, decode one token for the running ones, then prefill within the budget. */
  async step(): Promise<void> {
    for (const sequence of this.pending.filter((s) => s.isCancelled)) sequence.finish('cancelled');
    this.pending.splice(0, this.pending.length, ...this.pending.filter((s) => !s.isCancelled));
    if (this.partial?.sequence.isCancelled) {
      this.partial.sequence.finish('cancelled');
      this.partial = null;
    }
    for (const sequence of this.active) if (sequence.isCancelled) sequence.finish('cancelled');
    this.dropFinished();
    const stats: StepStats = { decodeRows: 0, decodeMs: 0, prefillTokens: 0, prefillMs: 0 };

    // Decode the running sequences first, so admitting newcomers never delays their next token by a prefill.
    if (this.state && this.active.length > 0) {
      const started = performance.now();
      stats.decodeRows = this.active.length;
      await this.lm.decode(
        this.state,
        this.active.map((sequence) => sequence.nextInput),
      );
      this.active.forEach((sequence, row) =>
        sequence.accept(this.state!.lastLogits[row]!, this.state!.positions[row]!),
      );
      this.dropFinished();
      stats.decodeMs = performance.now() - started;
    }

    const started = performance.now();
    let budget = this.chunkTokens;
    let chunked = 0;
    if (this.partial) chunked += await this.continuePartial(budget);
    budget -= chunked;
    // Whole prompts that fit the budget are prefilled together; the first that doesn't starts a chunked prefill
    // when nothing else was prefilled this step, and otherwise waits for the next step (FIFO order is kept).
    const admitted: Sequence[] = [];
    let admittedTokens = 0;
    while (
      this.pending.length > 0 &&
      this.active.length + admitted.length + (this.partial ? 1 : 0) < this.maxBatchSize
    ) {
      const length = this.pending[0]!.request.promptIds.length;
      if (admittedTokens + length <= budget) {
        admitted.push(this.pending.shift()!);
        admittedTokens += length;
        continue;
      }
      if (admitted.length === 0 && !this.partial && chunked === 0) {
        this.partial = { sequence: this.pending.shift()!, state: null, done: 0 };
        chunked += await this.continuePartial(budget);
      }
      break;
    }
    if (admitted.length > 0) {
      const fresh = await this.lm.prefill(admitted.map((sequence) => sequence.request.promptIds));
      admitted.forEach((sequence, row) => sequence.accept(fresh.lastLogits[row]!, fresh.positions[row]!));
      this.join(admitted, fresh);
    }
    stats.prefillTokens = admittedTokens + chunked;
    stats.prefillMs = stats.prefillTokens > 0 ? performance.now() - started : 0;
    this.lastStep = stats;
    this.options.onStep?.(stats);
  }

  /** Prefills the next chunk of the partial sequence (at most `budget` tokens); returns the tokens used. */
  private async continuePartial(budget: number): Promise<number> {
    const partial = this.partial!;
    const ids = partial.sequence.request.promptIds;
    const take = Math.min(budget, ids.length - partial.done);
    if (take <= 0) return 0;
    partial.state = await this.lm.prefillChunk(partial.state, ids.slice(partial.done, partial.done + take));
    partial.done += take;
    if (partial.done === ids.length) {
      this.partial = null;
      partial.sequence.accept(partial.state.lastLogits[0]!, partial.state.positions[0]!);
      this.join([partial.sequence], partial.state);
    }
    return take;
  }

  private join(sequences: Sequence[], fresh: DecodeState): void {
    this.state = this.state && this.active.length > 0 ? this.lm.concatStates(this.state, fresh) : fresh;
    this.active.push(...sequences);
    this.dropFinished();
  }

  private dropFinished(): void {
    if (!this.active.some((sequence) => sequence.finished)) return;
    const keep = this.active.flatMap((sequence, row) => (sequence.finished ? [] : [row]));
    this.active = keep.map((row) => this.active[row]!);
    if (keep.length === 0 && this.state) this.lm.releaseState(this.state);
    this.state = keep.length > 0 && this.state ? this.lm.selectRows(this.state, keep) : null;
  }
}
