import { usageError } from '../errors.js';

/** How the next token is chosen. temperature 0 is greedy (the argmax after bias and penalties), whatever top-p or k. */
export interface SamplingOptions {
  /** @default 0 */
  temperature?: number;
  /** Nucleus sampling: the smallest set of tokens whose probability mass reaches topP. @default 1 */
  topP?: number;
  /** Sample among the k most likely tokens; 0 is off. @default 0 */
  topK?: number;
  /** Seed of this sequence's random generator; sequences sample independently of their batch mates. */
  seed?: number;
  /**
   * Added to a token's logit before anything else (OpenAI's `logit_bias`, -100 to 100). -100 bans the token, as
   * OpenAI documents, rather than lowering a logit that may still win.
   */
  logitBias?: ReadonlyMap<number, number>;
  /**
   * Subtracted, once, from the logit of every token the sequence has generated (OpenAI's `presence_penalty`, -2 to
   * 2). As vLLM applies it: generated tokens only, not the prompt's, after `logitBias`, greedy too. @default 0
   */
  presencePenalty?: number;
  /** Subtracted from a token's logit per time the sequence generated it (OpenAI's `frequency_penalty`). @default 0 */
  frequencyPenalty?: number;
  /**
   * Divides the positive logits, and multiplies the negative ones, of every token in the prompt or generated so far
   * (transformers' and vLLM's `repetition_penalty`; above 1 discourages repeats). Before the other two. @default 1
   */
  repetitionPenalty?: number;
}

/**
 * What the penalties of SamplingOptions need to know of a sequence: the tokens it has generated, with their counts,
 * and those of its prompt. Kept per sequence and updated as it generates, so a step costs one pass over the distinct
 * tokens seen, not over the history.
 */
export class TokenPenalties {
  private readonly generated = new Map<number, number>();
  /** Prompt and generated tokens, for the repetition penalty. */
  private readonly seen: Set<number>;

  private constructor(
    private readonly presence: number,
    private readonly frequency: number,
    private readonly repetition: number,
    promptIds: readonly number[],
  ) {
    this.seen = new Set(repetition === 1 ? [] : promptIds);
  }

  /** The penalties of `options` for a sequence with this prompt; null when none applies (all at their defaults). */
  static of(options: SamplingOptions, promptIds: readonly number[]): TokenPenalties | null {
    const presence = options.presencePenalty ?? 0;
    const frequency = options.frequencyPenalty ?? 0;
    const repetition = options.repetitionPenalty ?? 1;
    if (!(repetition > 0 && Number.isFinite(repetition)))
      throw usageError(`repetitionPenalty must be a positive number, got ${repetition}`, 'INVALID_INPUT');
    for (const [name, value] of [
      ['presencePenalty', presence],
      ['frequencyPenalty', frequency],
    ] as const)
      if (!Number.isFinite(value)) throw usageError(`${name} must be a number, got ${value}`, 'INVALID_INPUT');
    if (presence === 0 && frequency === 0 && repetition === 1) return null;
    return new TokenPenalties(presence, frequency, repetition, promptIds);
  }

  /** Counts a token the sequence generated. */
  record(token: number): void {
    this.generated.set(token, (this.generated.get(token) ?? 0) + 1);
    if (this.repetition !== 1) this.seen.add(token);
  }

  /** Applies the penalties to a row of logits, in place. */
  apply(row: Float32Array): void {
    if (this.repetition !== 1) {
      for (const id of this.seen) {
        const logit = row[id]!;
        row[id] = logit > 0 ? logit / this.repetition : logit * this.repetition;
      }
    }
    if (this.presence === 0 && this.frequency === 0) return;
    for (const [id, count] of this.generated) row[id] = row[id]! - this.presence - this.frequency * count;
  }
}

/**
 * The row with `bias`, then the penalties, applied, in a copy: the row itself belongs to the batch's logits.
 */
function adjusted(
  logits: Float32Array,
  bias: ReadonlyMap<number, number> | undefined,
  penalties: TokenPenalties | null,
): Float32Array {
  const row = logits.slice();
  for (const [id, value] of bias ?? [])
    if (id >= 0 && id < row.length) row[id] = value <= -100 ? -Infinity : row[id]! + value;
  penalties?.apply(row);
  return row;
}

/** A small, fast, seedable PRNG (mulberry32): reproducible sampling across runs and platforms. */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function argmax(logits: Float32Array): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < logits.length; i += 1) {
    const value = logits[i]!;
    if (value > bestValue) {
      bestValue = value;
      best = i;
    }
  }
  return best;
}

/**
 * Per-token arrays of the row being sampled (softmax weights, bestIds' buckets), reused from row to row: a fresh one
 * per row (250 KB of weights at a 32,000-token vocabulary) cost more than filling it. Sampling is synchronous, so no
 * two rows share them at once.
 */
let scratch = new Float64Array(0);
let bucketScratch = new Uint16Array(0);

/** Resolution of the bucketing in bestIds: buckets per unit of (best logit - logit) / temperature, and how many. */
const BUCKETS_PER_UNIT = 16;
const BUCKETS = BUCKETS_PER_UNIT * 64;

/**
 * The fewest best ids (by logit; ties: lower id first, as a stable sort orders them) that are at least `count` and
 * whose weights hold at least `mass`: the top k, or the nucleus. Sorting a whole vocabulary took 20-40 ms a row at
 * 32,000-50,000 tokens, 20 times an 80M model's 16-row decode step. So the ids are bucketed by their distance from
 * the best logit, in one pass; the buckets before the one where count and mass are reached are taken whole, and only
 * that bucket's ids are sorted. The ids come back in no particular order, except that the boundary is exact.
 */
export function bestIds(
  logits: Float32Array,
  weights: Float64Array,
  max: number,
  temperature: number,
  count: number,
  mass: number,
): number[] {
  if (bucketScratch.length < logits.length) bucketScratch = new Uint16Array(logits.length);
  const buckets = bucketScratch;
  const counts = new Uint32Array(BUCKETS + 1);
  const masses = new Float64Array(BUCKETS + 1);
  const perUnit = BUCKETS_PER_UNIT / temperature;
  for (let id = 0; id < logits.length; id += 1) {
    // NaN (and -Infinity, a banned token) fall in the last bucket.
    const distance = (max - logits[id]!) * perUnit;
    const bucket = distance < BUCKETS ? Math.floor(distance) : BUCKETS;
    buckets[id] = bucket;
    counts[bucket] = counts[bucket]! + 1;
    masses[bucket] = masses[bucket]! + weights[id]!;
  }
  let crossing = 0;
  let taken = 0;
  let held = 0;
  for (; crossing < BUCKETS; crossing += 1) {
    if (taken + counts[crossing]! >= count && held + masses[crossing]! >= mass) break;
    taken += counts[crossing]!;
    held += masses[crossing]!;
  }
  const ids: number[] = [];
  const boundary: number[] = [];
  for (let id = 0; id < logits.length; id += 1) {
    const bucket = buckets[id]!;
    if (bucket < crossing) ids.push(id);
    else if (bucket === crossing) boundary.push(id);
  }
  boundary.sort((a, b) => logits[b]! - logits[a]! || a - b);
  for (const id of boundary) {
    if (ids.length >= count && held >= mass) break;
    ids.push(id);
    held += weights[id]!;
  }
  return ids;
}

/** 2^-k for k = 0 … 1074 (the smallest double); lighter weights are 0. */
const NEGATIVE_POWERS_OF_TWO = Float64Array.from({ length: 1075 }, (_, k) => 2 ** -k);

/**
 * 2^x for x ≤ 0 (NaN and -Infinity give 0), within 2.1e-9 relative of Math.pow: far below float32's epsilon (6e-8),
 * the logits' own precision. Every token of the vocabulary needs one per sampled row, and Math.exp made up half of a
 * row's sampling time at 32,000 tokens; this is 2.4 times faster. 2^x = 2^-k × 2^f with k = ceil(-x), f in [0, 1);
 * the polynomial is a least-squares fit of 2^f on [0, 1], weighted for relative error.
 */
export function exp2OfNonPositive(x: number): number {
  const k = Math.ceil(-x);
  if (!(k < NEGATIVE_POWERS_OF_TWO.length)) return 0;
  const f = x + k;
  const power =
    1 +
    f *
      (0.6931470422926229 +
        f *
          (0.2402293251464129 +
            f *
              (0.055485220156297754 +
                f * (0.009675532627348535 + f * (0.0012467376378161865 + f * 0.0002161380825077136)))));
  return NEGATIVE_POWERS_OF_TWO[k]! * power;
}

/**
 * Picks the next token from one row of logits: temperature, then top-k, then top-p over what top-k kept, as transformers
 * does. The candidates are drawn from in no particular order, which leaves each one's probability as it is.
 */
export function sampleToken(
  row: Float32Array,
  options: SamplingOptions,
  random: () => number,
  penalties: TokenPenalties | null = null,
): number {
  const logits = options.logitBias?.size || penalties ? adjusted(row, options.logitBias, penalties) : row;
  const temperature = options.temperature ?? 0;
  if (temperature <= 0) return argmax(logits);
  const topK = (options.topK ?? 0) > 0 && options.topK! < logits.length ? options.topK! : 0;
  const topP = options.topP ?? 1;

  const max = logits[argmax(logits)]!;
  if (scratch.length < logits.length) scratch = new Float64Array(logits.length);
  const weights = scratch;
  let total = 0;
  const scale = Math.LOG2E / temperature;
  for (let id = 0; id < logits.length; id += 1) total += weights[id] = exp2OfNonPositive((logits[id]! - max) * scale);

  let candidates: number[] | null = null;
  if (topK > 0) {
    candidates = bestIds(logits, weights, max, temperature, topK, 0);
    total = candidates.reduce((sum, id) => sum + weights[id]!, 0);
  }
  if (topP < 1) {
    if (candidates) {
      // The top k are few: their nucleus is cut from them sorted.
      candidates.sort((a, b) => logits[b]! - logits[a]! || a - b);
      let held = 0;
      const keep = candidates.findIndex((id) => (held += weights[id]!) >= topP * total);
      if (keep >= 0) candidates = candidates.slice(0, keep + 1);
    } else {
      candidates = bestIds(logits, weights, max, temperature, 1, topP * total);
    }
  }

  // Without top-k or top-p, the draw walks the whole vocabulary as it lies.
  let threshold = random() * (candidates ? candidates.reduce((sum, id) => sum + weights[id]!, 0) : total);
  const count = candidates ? candidates.length : logits.length;
  let last = -1;
  for (let i = 0; i < count; i += 1) {
    const id = candidates ? candidates[i]! : i;
    const weight = weights[id]!;
    if (weight === 0) continue;
    last = id;
    threshold -= weight;
    if (threshold <= 0) return id;
  }
  return last >= 0 ? last : argmax(logits);
}
