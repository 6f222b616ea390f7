import { CausalLM } from '../engine/index.js';

/**
 * How far compiled logits may be from the source's: `atol + rtol × max |source logit|`. A fixed absolute bound is
 * wrong both ways: fp32 reassociation error grows with the logits' scale (tens on real models), while a broken
 * rewrite shows up as a fraction of that scale. numpy's allclose and optimum's export check combine the two the same way.
 */
export interface LogitsTolerance {
  atol: number;
  rtol: number;
}

/**
 * Why these: fp32 graph rewrites (fusions, reassociated sums) move logits by ~1e-6–1e-3 of their scale; a rewrite that
 * really changes the function moves them by percents. 2e-3 of the scale sits between the two, and the greedy
 * continuation must match besides.
 */
export const DEFAULT_LOGITS_TOLERANCE: LogitsTolerance = { atol: 1e-3, rtol: 2e-3 };

export interface LogitsComparison {
  passed: boolean;
  method: string;
  prompt: string;
  maxAbsDiff: number;
  /** The bound maxAbsDiff was held to: atol + rtol × logitScale. */
  tolerance: number;
  atol: number;
  rtol: number;
  /** max |logit| of the source on the prompt's last token. */
  logitScale: number;
  greedyTokens: number;
  greedyMatch: boolean;
}

/** Max |a − b| over two logit rows, the scale of the reference row, and whether the difference is within tolerance. */
export function compareLogits(
  reference: Float32Array,
  actual: Float32Array,
  tolerance: LogitsTolerance = DEFAULT_LOGITS_TOLERANCE,
): { maxAbsDiff: number; logitScale: number; bound: number; within: boolean } {
  let maxAbsDiff = reference.length === actual.length ? 0 : Infinity;
  let logitScale = 0;
  for (let i = 0; i < Math.min(reference.length, actual.length); i += 1) {
    // NaN anywhere must fail: Math.max would carry it, and NaN <= bound is false.
    const diff = Math.abs(reference[i]! - actual[i]!);
    maxAbsDiff = Number.isNaN(diff) ? NaN : Math.max(maxAbsDiff, diff);
    logitScale = Math.max(logitScale, Math.abs(reference[i]!));
  }
  const bound = tolerance.atol + tolerance.rtol * logitScale;
  return { maxAbsDiff, logitScale, bound, within: maxAbsDiff <= bound };
}

/** A fixed prompt: validation must be reproducible, and it exercises prefill and a few cached decode steps. */
export const VALIDATION_PROMPT = 'The model server answers requests with streamed tokens.';

/**
 * Compares a compiled model with its source: the logits of the prompt's last token within a tolerance that scales
 * with the logits, and the same greedy continuation. A compiled model that fails is a failed build, not a warning.
 */
export async function compareWithSource(
  sourceDir: string,
  compiledDir: string,
  options: { tolerance?: LogitsTolerance; greedyTokens?: number } = {},
): Promise<LogitsComparison> {
  const greedyTokens = options.greedyTokens ?? 8;
  const tolerance = options.tolerance ?? DEFAULT_LOGITS_TOLERANCE;
  // The source runs unoptimized: the reference is the graph as exported, not ONNX Runtime's rewrite of it.
  const source = await CausalLM.load({ dir: sourceDir, graphOptimizationLevel: 'disabled' });
  const compiled = await CausalLM.load({ dir: compiledDir });
  try {
    const ids = source.tokenizer.encode(VALIDATION_PROMPT);
    const a = (await source.prefill([ids])).lastLogits[0]!;
    const b = (await compiled.prefill([ids])).lastLogits[0]!;
    const logits = compareLogits(a, b, tolerance);
    const expected = await source.generate(ids, { maxTokens: greedyTokens });
    const actual = await compiled.generate(ids, { maxTokens: greedyTokens });
    const greedyMatch = expected.tokenIds.join() === actual.tokenIds.join();
    return {
      passed: logits.within && greedyMatch,
      method:
        'logits of the last prompt token (max abs diff ≤ atol + rtol × max |source logit|) and greedy continuation vs the source model',
      prompt: VALIDATION_PROMPT,
      maxAbsDiff: Number(logits.maxAbsDiff.toPrecision(4)),
      tolerance: Number(logits.bound.toPrecision(4)),
      atol: tolerance.atol,
      rtol: tolerance.rtol,
      logitScale: Number(logits.logitScale.toPrecision(4)),
      greedyTokens,
      greedyMatch,
    };
  } finally {
    await source.dispose();
    await compiled.dispose();
  }
}
