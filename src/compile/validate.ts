import { CausalLM } from '../engine/index.js';

export interface LogitsComparison {
  passed: boolean;
  method: string;
  prompt: string;
  maxAbsDiff: number;
  tolerance: number;
  greedyTokens: number;
  greedyMatch: boolean;
}

/** A fixed prompt: validation must be reproducible, and it exercises prefill and a few cached decode steps. */
export const VALIDATION_PROMPT = 'The model server answers requests with streamed tokens.';

/**
 * Compares a compiled model with its source: the logits of the prompt's last token within a tolerance, and the
 * same greedy continuation. A compiled model that fails is a failed build, not a warning.
 */
export async function compareWithSource(sourceDir: string, compiledDir: string, options: { tolerance: number; greedyTokens?: number }): Promise<LogitsComparison> {
  const greedyTokens = options.greedyTokens ?? 8;
  // The source runs unoptimized: the reference is the graph as exported, not ONNX Runtime's rewrite of it.
  const source = await CausalLM.load({ dir: sourceDir, graphOptimizationLevel: 'disabled' });
  const compiled = await CausalLM.load({ dir: compiledDir });
  try {
    const ids = source.tokenizer.encode(VALIDATION_PROMPT);
    const a = (await source.prefill([ids])).lastLogits[0]!;
    const b = (await compiled.prefill([ids])).lastLogits[0]!;
    let maxAbsDiff = a.length === b.length ? 0 : Infinity;
    for (let i = 0; i < Math.min(a.length, b.length); i += 1) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(a[i]! - b[i]!));
    const expected = await source.generate(ids, { maxTokens: greedyTokens });
    const actual = await compiled.generate(ids, { maxTokens: greedyTokens });
    const greedyMatch = expected.tokenIds.join() === actual.tokenIds.join();
    return {
      passed: maxAbsDiff <= options.tolerance && greedyMatch,
      method: 'logits of the last prompt token (max abs diff) and greedy continuation vs the source model',
      prompt: VALIDATION_PROMPT,
      maxAbsDiff: Number(maxAbsDiff.toPrecision(4)),
      tolerance: options.tolerance,
      greedyTokens,
      greedyMatch,
    };
  } finally {
    await source.dispose();
    await compiled.dispose();
  }
}
