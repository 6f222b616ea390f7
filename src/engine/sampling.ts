/** How the next token is chosen. temperature 0 is greedy (argmax), whatever the other settings. */
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
}

/** The row with `bias` applied, in a copy: the row itself belongs to the batch's logits. */
function biased(logits: Float32Array, bias: ReadonlyMap<number, number>): Float32Array {
  const row = logits.slice();
  for (const [id, value] of bias)
    if (id >= 0 && id < row.length) row[id] = value <= -100 ? -Infinity : row[id]! + value;
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

/** Picks the next token from one row of logits. */
export function sampleToken(row: Float32Array, options: SamplingOptions, random: () => number): number {
  const logits = options.logitBias?.size ? biased(row, options.logitBias) : row;
  const temperature = options.temperature ?? 0;
  if (temperature <= 0) return argmax(logits);
  const topK = options.topK ?? 0;
  const topP = options.topP ?? 1;

  // Candidates sorted by logit, best first; top-k narrows them before the softmax, as transformers does.
  let candidates = Array.from(logits.keys());
  candidates.sort((a, b) => logits[b]! - logits[a]!);
  if (topK > 0 && topK < candidates.length) candidates = candidates.slice(0, topK);

  const max = logits[candidates[0]!]!;
  const weights = candidates.map((id) => Math.exp((logits[id]! - max) / temperature));
  const total = weights.reduce((sum, weight) => sum + weight, 0);

  let keep = candidates.length;
  if (topP < 1) {
    let mass = 0;
    for (let i = 0; i < candidates.length; i += 1) {
      mass += weights[i]! / total;
      if (mass >= topP) {
        keep = i + 1;
        break;
      }
    }
  }
  const keptTotal = weights.slice(0, keep).reduce((sum, weight) => sum + weight, 0);
  let threshold = random() * keptTotal;
  for (let i = 0; i < keep; i += 1) {
    threshold -= weights[i]!;
    if (threshold <= 0) return candidates[i]!;
  }
  return candidates[keep - 1]!;
}
