import { performance } from 'node:perf_hooks';
import { usageError } from '../errors.js';
import type { CausalLM } from './causal-lm.js';
import type { DecodeState } from './decode-state.js';
import { createRandom, sampleToken, TokenPenalties, type SamplingOptions } from './sampling.js';
import { StopStringMatcher } from './stop.js';
import { IncrementalDecoder } from './tokenizer.js';

export interface GenerateOptions extends SamplingOptions {
  /** Maximum new tokens. @default 64 */
  maxTokens?: number;
  /** Stop when any of these strings is generated; the string itself is not returned. */
  stop?: readonly string[];
  /**
   * Generate past end-of-sequence tokens (vLLM's `ignore_eos`): the sequence runs to `maxTokens`, so a benchmark's
   * requests all generate what they asked for. EOS tokens then count as generated tokens. @default false
   */
  ignoreEos?: boolean;
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
  /** While the prompt is fed one token per decode step (see DecoderBatch): the index of the token fed next; else -1. */
  private feedAt = -1;
  private cancelled = false;
  private readonly decoder: IncrementalDecoder;
  private readonly stops: StopStringMatcher;
  private readonly random: () => number;
  private readonly penalties: TokenPenalties | null;
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
    this.penalties = TokenPenalties.of(request, request.promptIds);
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

  /** Whether the prompt is being fed one token per decode step: the step's logits are not sampled until its end. */
  get feeding(): boolean {
    return this.feedAt >= 0;
  }

  /** Feeds the prompt from token `from` on, one per decode step, as a row of a decode run. */
  feedPrompt(from: number): void {
    this.feedAt = from;
    this.nextInput = this.request.promptIds[from]!;
  }

  /** Stops feeding: the rest of the prompt (from fedTokens on) is prefilled some other way. */
  stopFeeding(): void {
    this.feedAt = -1;
  }

  /** While the prompt is fed: how many of its tokens are in the sequence's cache. */
  get fedTokens(): number {
    return this.feedAt;
  }

  /**
   * After a decode step: a fed prompt token leads to the next one, and the last one's logits to the first sampled
   * token; otherwise the step's logits are sampled (accept).
   */
  stepped(logits: Float32Array, totalLength: number): void {
    if (this.feedAt < 0) return this.accept(logits, totalLength);
    this.feedAt += 1;
    if (this.feedAt < this.request.promptIds.length) {
      this.nextInput = this.request.promptIds[this.feedAt]!;
      return;
    }
    this.feedAt = -1;
    this.accept(logits, totalLength);
  }

  /** Chooses the next token from the latest logits, streams its text, and decides whether the sequence is done. */
  accept(logits: Float32Array, totalLength: number): void {
    const token = sampleToken(logits, this.request, this.random, this.penalties);
    this.penalties?.record(token);
    const now = performance.now();
    if (this.tokenIds.length === 0) this.firstTokenAt = now;
    this.lastTokenAt = now;
    if (this.lm.eosTokenIds.has(token) && !this.request.ignoreEos) return this.finish('stop');

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
  /**
   * While sequences decode, each chunk of a prompt longer than `prefillChunkTokens` aims at this fraction of the step's
   * decode time: the chunk (at most `prefillChunkTokens`) is resized after every such step from the times measured,
   * because a prompt token's prefill cost grows with the past before it and differs by model and machine, so no fixed
   * size suits both a short and a 1,000-token past. Running streams' inter-token time then stays near (1 + ratio) × a
   * decode step while a long prompt arrives. Prompts that fit in one chunk are not cut: they join whole (see step).
   * A run of its own reads all the weights, however small, so a ratio below what the smallest chunk (4 tokens) costs
   * can't be met by chunks. Where that chunk overshoots the ratio by more than feeding would undershoot it, twice in a
   * row, the rest of the prompt is fed one token per step as a row of the decode run instead: on an 80M model on 2
   * cores ~1 ms a step against ~14.5 ms for a 4-token run of its own (×1.05 of a 23 ms step instead of ×1.6), and its
   * first token comes that many steps later. It goes back to chunks when no other row is left to decode beside it.
   * Off (fixed chunks) when unset.
   */
  prefillTimeRatio?: number;
  /**
   * Most cohorts (groups of sequences that decode together in one model run). Every cohort costs one pass over the
   * weights per step, so they are kept few; past this many, the two that merge with the least padding are merged.
   * @default 4
   */
  maxCohorts?: number;
  /**
   * Most padding a cohort may carry after a join or merge, as a fraction of its real past positions. Rows of one
   * cohort are left-padded to its longest past, and each step feeds (and copies) every padded position of every row:
   * a 1,000-token prompt joining 16 short streams would multiply their per-step KV work by ~50 for the rest of their
   * lives. Above this, the newcomer decodes in a cohort of its own. @default 0.5
   */
  maxPaddingRatio?: number;
  /** Called after every step with its time split (e.g. for metrics). */
  onStep?: (stats: StepStats) => void;
}

/** What one scheduling step did and how long each part took. */
export interface StepStats {
  /** Rows in the decode runs (0: no decode this step). */
  decodeRows: number;
  /** Of those, rows that fed a prompt token rather than a sampled one (see prefillTimeRatio). */
  feedRows: number;
  /** Model runs of the decode part: one per cohort. */
  decodeRuns: number;
  decodeMs: number;
  /** Prompt tokens prefilled this step (whole prompts and chunks). */
  prefillTokens: number;
  prefillMs: number;
  /** KV cache copies outside the model: rows leaving (trim), joining and cohorts merging. */
  copyMs: number;
}

/** Sequences that decode together: one DecodeState whose rows are left-padded to a common past length. */
interface Cohort {
  sequences: Sequence[];
  state: DecodeState;
}

/** Padded past positions of a cohort (or of two merged) per real one. */
function paddingRatio(states: readonly DecodeState[]): number {
  const length = Math.max(...states.map((state) => state.pastLength));
  const rows = states.reduce((sum, state) => sum + state.rows, 0);
  const real = states.reduce((sum, state) => sum + state.positions.reduce((a, b) => a + b, 0), 0);
  return real > 0 ? (rows * length - real) / real : Infinity;
}

/**
 * The smallest adaptive chunk. Every chunk is a model run of its own, and a run reads all the weights whatever its
 * size, so small chunks cost more per token and a long prompt takes more steps. Still, the chunk must be able to fit
 * the ratio asked for. On an 86M GPT-2 on 2 CPU cores, after a 960-token past, 4-, 8-, 16- and 32-token chunks took
 * 27, 33, 44 and 64-85 ms against a 45 ms 16-row decode step. On an 80M Llama-style export (SDPA attention), a floor
 * of 8 kept a step's prefill near 0.7 of its decode at PREFILL_TIME_RATIO 0.5. Running streams' ITL p99 during a
 * 1,014-token arrival was then 2.08-2.12× their p50 before it. With 4, the prefill was near 0.6 and the ITL p99
 * 1.92-1.97× the p50 before, while the prompt's TTFT grew from 6.5-6.9 s to 10.5 s. (Where freed memory goes back
 * to the OS, glibc's default for blocks over 32 MB, a chunk on the naive KV path faults the past in afresh and took
 * 60-230 ms whatever its size: see the node template's GLIBC_TUNABLES.)
 */
const MIN_ADAPTIVE_CHUNK = 4;

const emptyStats = (): StepStats => ({
  decodeRows: 0,
  feedRows: 0,
  decodeRuns: 0,
  decodeMs: 0,
  prefillTokens: 0,
  prefillMs: 0,
  copyMs: 0,
});

/**
 * Continuous batching: sequences join between decode steps and leave when they finish, so a long generation never
 * blocks a short one. Each step decodes one token for every running sequence, then prefills newcomers — whole,
 * together, or one long prompt in chunks (`prefillChunkTokens`) — within the step's token budget. Running sequences
 * are grouped in cohorts of similar past lengths (`maxPaddingRatio`, `maxCohorts`), one model run per cohort, so a
 * long prompt joining short streams doesn't pad all of them to its length.
 */
export class DecoderBatch {
  private readonly maxBatchSize: number;
  private readonly chunkTokens: number;
  private readonly timeRatio: number | undefined;
  /** With prefillTimeRatio: the prefill budget of the next step that also decodes. */
  private adaptiveTokens: number;
  private readonly maxCohorts: number;
  private readonly maxPadding: number;
  private readonly pending: Sequence[] = [];
  private cohorts: Cohort[] = [];
  /** A long prompt part-way through its chunked prefill: it holds a batch slot and produces no token yet. */
  private partial: { sequence: Sequence; state: DecodeState | null; done: number } | null = null;
  /** Consecutive smallest chunks further over prefillTimeRatio than feeding would be under it (two: it is fed). */
  private floorOverruns = 0;
  /** The latest step's time split. */
  lastStep: StepStats = emptyStats();

  constructor(
    private readonly lm: CausalLM,
    private readonly options: DecoderBatchOptions = {},
  ) {
    this.maxBatchSize = options.maxBatchSize ?? 16;
    const chunk = options.prefillChunkTokens;
    if (chunk !== undefined && !(Number.isSafeInteger(chunk) && chunk > 0))
      throw usageError(`prefillChunkTokens must be a positive integer, got ${chunk}`, 'INVALID_INPUT');
    this.chunkTokens = chunk ?? Infinity;
    const ratio = options.prefillTimeRatio;
    if (ratio !== undefined && !(ratio > 0 && Number.isFinite(ratio)))
      throw usageError(`prefillTimeRatio must be a positive number, got ${ratio}`, 'INVALID_INPUT');
    this.timeRatio = ratio;
    this.adaptiveTokens = Math.min(this.chunkTokens, MIN_ADAPTIVE_CHUNK * 2);
    this.maxCohorts = options.maxCohorts ?? 4;
    if (!(Number.isSafeInteger(this.maxCohorts) && this.maxCohorts > 0))
      throw usageError(`maxCohorts must be a positive integer, got ${options.maxCohorts}`, 'INVALID_INPUT');
    this.maxPadding = options.maxPaddingRatio ?? 0.5;
    if (!(this.maxPadding >= 0))
      throw usageError(`maxPaddingRatio must be a number >= 0, got ${options.maxPaddingRatio}`, 'INVALID_INPUT');
  }

  get activeCount(): number {
    return this.cohorts.reduce((sum, cohort) => sum + cohort.sequences.length, 0);
  }

  /** Sequences without a first token yet: queued, or part-way through a chunked prefill. */
  get pendingCount(): number {
    return this.pending.length + (this.partial ? 1 : 0);
  }

  /** Groups of running sequences that decode in one model run each. */
  get cohortCount(): number {
    return this.cohorts.length;
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
      if (this.partial.state) this.lm.releaseState(this.partial.state);
      this.partial = null;
    }
    const stats = emptyStats();
    for (const cohort of this.cohorts)
      for (const sequence of cohort.sequences) if (sequence.isCancelled) sequence.finish('cancelled');
    this.dropFinished(stats);
    this.stopFeedingAlone();

    // Decode the running sequences first, so admitting newcomers never delays their next token by a prefill.
    if (this.cohorts.length > 0) {
      const started = performance.now();
      for (const { sequences, state } of this.cohorts) {
        stats.decodeRows += sequences.length;
        stats.feedRows += sequences.filter((sequence) => sequence.feeding).length;
        stats.decodeRuns += 1;
        await this.lm.decode(
          state,
          sequences.map((sequence) => sequence.nextInput),
        );
        sequences.forEach((sequence, row) => sequence.stepped(state.lastLogits[row]!, state.positions[row]!));
      }
      stats.decodeMs = performance.now() - started;
      this.dropFinished(stats);
    }

    const started = performance.now();
    // While sequences decode, the time ratio sizes the chunks of prompts longer than a chunk. Prompts that fit in one
    // join whole, together, up to a chunk's tokens: a run reads all the weights whatever its size, so cutting a
    // 10-token prompt into floor-sized pieces cost three runs for about the time of one, and a burst of 16 such
    // requests joined one every few steps, the last after ~1.5 s.
    const adaptive = this.timeRatio !== undefined && stats.decodeRows > 0;
    const chunkBudget = adaptive ? this.adaptiveTokens : this.chunkTokens;
    let chunked = 0;
    let chunkMs = 0;
    const ready: Cohort[] = [];
    const nextChunk = async () => {
      const chunkStarted = performance.now();
      chunked += await this.continuePartial(chunkBudget, ready);
      chunkMs += performance.now() - chunkStarted;
    };
    if (this.partial) await nextChunk();
    const budget = this.chunkTokens - chunked;
    // Whole prompts that fit the budget are prefilled together; the first that doesn't starts a chunked prefill
    // when nothing else was prefilled this step, and otherwise waits for the next step (FIFO order is kept).
    const admitted: Sequence[] = [];
    let admittedTokens = 0;
    while (this.pending.length > 0 && this.activeCount + admitted.length + (this.partial ? 1 : 0) < this.maxBatchSize) {
      const length = this.pending[0]!.request.promptIds.length;
      if (admittedTokens + length <= budget) {
        admitted.push(this.pending.shift()!);
        admittedTokens += length;
        continue;
      }
      if (admitted.length === 0 && !this.partial && chunked === 0) {
        this.partial = { sequence: this.pending.shift()!, state: null, done: 0 };
        this.floorOverruns = 0;
        await nextChunk();
      }
      break;
    }
    if (admitted.length > 0) {
      const fresh = await this.lm.prefill(admitted.map((sequence) => sequence.request.promptIds));
      admitted.forEach((sequence, row) => sequence.accept(fresh.lastLogits[row]!, fresh.positions[row]!));
      ready.push({ sequences: admitted, state: fresh });
    }
    stats.prefillTokens = admittedTokens + chunked;
    stats.prefillMs = stats.prefillTokens > 0 ? performance.now() - started : 0;
    const floor = Math.min(MIN_ADAPTIVE_CHUNK, this.chunkTokens);
    if (adaptive && this.partial?.state && chunked === floor && chunkMs > 0) {
      // The smallest chunk overshoots the budget by more than feeding the prompt would undershoot it (one more row
      // in the decode run costs about a row's share of it): the prompt is fed, if that holds twice in a row.
      const budget = this.timeRatio * stats.decodeMs;
      const row = stats.decodeMs / stats.decodeRows;
      this.floorOverruns = chunkMs - budget > budget - row ? this.floorOverruns + 1 : 0;
    }
    if (adaptive && chunked > 0 && chunkMs > 0) {
      // Scale toward the target, at most ×2 or ÷2 a step, so that one noisy timing can't swing it far.
      const scaled = (chunked * this.timeRatio * stats.decodeMs) / chunkMs;
      const bounded = Math.min(2 * this.adaptiveTokens, Math.max(this.adaptiveTokens / 2, scaled));
      this.adaptiveTokens = Math.max(
        Math.min(MIN_ADAPTIVE_CHUNK, this.chunkTokens),
        Math.min(this.chunkTokens, Math.floor(bounded)),
      );
    }
    const feed =
      this.floorOverruns >= 2 && this.partial?.state != null && this.cohorts.length > 0 && !this.lm.kvOnDevice;
    if (ready.length > 0 || feed) {
      const copying = performance.now();
      for (const cohort of ready) this.join(cohort);
      if (feed) this.startFeeding();
      this.consolidate();
      stats.copyMs += performance.now() - copying;
    }
    this.lastStep = stats;
    this.options.onStep?.(stats);
  }

  /**
   * Prefills the next chunk of the partial sequence (at most `budget` tokens); returns the tokens used. A finished
   * prefill goes to `ready` to join the running cohorts.
   */
  private async continuePartial(budget: number, ready: Cohort[]): Promise<number> {
    const partial = this.partial!;
    const ids = partial.sequence.request.promptIds;
    const take = Math.min(budget, ids.length - partial.done);
    if (take <= 0) return 0;
    // Only the prompt's last chunk samples: the others skip the language-model head (see PrefillOptions).
    const last = partial.done + take === ids.length;
    partial.state = await this.lm.prefillChunk(partial.state, ids.slice(partial.done, partial.done + take), {
      logits: last,
    });
    partial.done += take;
    if (partial.done === ids.length) {
      this.partial = null;
      partial.sequence.accept(partial.state.lastLogits[0]!, partial.state.positions[0]!);
      ready.push({ sequences: [partial.sequence], state: partial.state });
    }
    return take;
  }

  /**
   * The partial prompt joins the running rows, to be fed the rest of its prompt one token per decode step: into the
   * cohort it pads least, whatever the padding, since a cohort of its own would be a run of its own again.
   */
  private startFeeding(): void {
    const { sequence, state, done } = this.partial!;
    this.partial = null;
    this.floorOverruns = 0;
    sequence.feedPrompt(done);
    let best = 0;
    for (let i = 1; i < this.cohorts.length; i += 1)
      if (paddingRatio([this.cohorts[i]!.state, state!]) < paddingRatio([this.cohorts[best]!.state, state!])) best = i;
    const into = this.cohorts[best]!;
    this.cohorts[best] = {
      sequences: [...into.sequences, sequence],
      state: this.lm.concatStates(into.state, state!),
    };
  }

  /**
   * A prompt being fed whose cohort has no other row left goes back to chunks: fed alone, each of its tokens would
   * be a run of its own.
   */
  private stopFeedingAlone(): void {
    const [only] = this.cohorts;
    if (this.partial || this.cohorts.length !== 1 || only!.sequences.length !== 1) return;
    const sequence = only!.sequences[0]!;
    if (!sequence.feeding) return;
    this.cohorts = [];
    this.partial = { sequence, state: only!.state, done: sequence.fedTokens };
    sequence.stopFeeding();
  }

  /** Newcomers whose first token didn't finish them become a cohort; consolidate() then merges where cheap. */
  private join(fresh: Cohort): void {
    const keep = fresh.sequences.flatMap((sequence, row) => (sequence.finished ? [] : [row]));
    if (keep.length === 0) return this.lm.releaseState(fresh.state);
    this.cohorts.push(
      keep.length === fresh.sequences.length
        ? fresh
        : { sequences: keep.map((row) => fresh.sequences[row]!), state: this.lm.selectRows(fresh.state, keep) },
    );
  }

  /**
   * Merges cohorts while some pair would carry at most `maxPaddingRatio` padding, and regardless of padding while
   * there are more than `maxCohorts`; each time the pair with the least padding. Older cohorts' rows come first.
   */
  private consolidate(): void {
    for (;;) {
      let best: { i: number; j: number; ratio: number } | null = null;
      for (let i = 0; i < this.cohorts.length; i += 1) {
        for (let j = i + 1; j < this.cohorts.length; j += 1) {
          const ratio = paddingRatio([this.cohorts[i]!.state, this.cohorts[j]!.state]);
          if (!best || ratio < best.ratio) best = { i, j, ratio };
        }
      }
      // A KV cache in device memory can't be re-laid on the host (see CausalLM.kvOnDevice): merge only when forced.
      const cheap = best !== null && best.ratio <= this.maxPadding && !this.lm.kvOnDevice;
      if (!best || (!cheap && this.cohorts.length <= this.maxCohorts)) return;
      const a = this.cohorts[best.i]!;
      const b = this.cohorts[best.j]!;
      this.cohorts[best.i] = {
        sequences: [...a.sequences, ...b.sequences],
        state: this.lm.concatStates(a.state, b.state),
      };
      this.cohorts.splice(best.j, 1);
    }
  }

  /** Drops finished rows (trimming the padding only they needed); emptied cohorts go, and the rest may now merge. */
  private dropFinished(stats: StepStats): void {
    if (!this.cohorts.some((cohort) => cohort.sequences.some((sequence) => sequence.finished))) return;
    const started = performance.now();
    this.cohorts = this.cohorts.flatMap((cohort) => {
      if (!cohort.sequences.some((sequence) => sequence.finished)) return [cohort];
      const keep = cohort.sequences.flatMap((sequence, row) => (sequence.finished ? [] : [row]));
      if (keep.length === 0) {
        this.lm.releaseState(cohort.state);
        return [];
      }
      return [{ sequences: keep.map((row) => cohort.sequences[row]!), state: this.lm.selectRows(cohort.state, keep) }];
    });
    this.consolidate();
    stats.copyMs += performance.now() - started;
  }
}
